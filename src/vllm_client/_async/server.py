"""``client.server``: health, version, load and Prometheus metrics of the vLLM server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import Unpack

from .._errors import APIConnectionError, APIError
from .._protocol.metrics_text import parse_prometheus
from .._protocol.params import CallOptions
from .._protocol.requests import build_simple

if TYPE_CHECKING:
    from .client import AsyncVllmClient

__all__ = ["AsyncServer"]


class AsyncServer:
    """Server-level endpoints, served at the root (not under ``/v1``)."""

    def __init__(self, client: AsyncVllmClient) -> None:
        self._client = client

    async def health(self, **options: Unpack[CallOptions]) -> bool:
        """True when ``GET /health`` answers 200; False for an error status or no connection.
        Never retried: a health check should answer now."""
        client = self._client.with_options(max_retries=0)
        try:
            await client._request_bytes(build_simple("GET", "/health", root=True, options=options))
        except (APIError, APIConnectionError):
            return False
        return True

    async def version(self, **options: Unpack[CallOptions]) -> str:
        """The vLLM version string (``GET /version``)."""
        data, _ = await self._client._request_json(build_simple("GET", "/version", root=True, options=options))
        return str(data.get("version", "")) if isinstance(data, dict) else str(data)

    async def load(self, **options: Unpack[CallOptions]) -> int:
        """The server's current load (``GET /load``: requests being served)."""
        data, _ = await self._client._request_json(build_simple("GET", "/load", root=True, options=options))
        return int(data.get("server_load", 0)) if isinstance(data, dict) else int(data)

    async def metrics(self, **options: Unpack[CallOptions]) -> dict[str, float]:
        """Prometheus metrics (``GET /metrics``) as ``{"name{labels}": value}``."""
        body, _, _ = await self._client._request_bytes(build_simple("GET", "/metrics", root=True, options=options))
        return parse_prometheus(body.decode("utf-8", "replace"))
