"""``client.server``: health, ping, version, load, Prometheus metrics, and the operator
routes of elastic expert parallelism (``scale_elastic_ep`` / ``is_scaling_elastic_ep``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

    async def ping(self, **options: Unpack[CallOptions]) -> bool:
        """True when ``GET /ping`` (the SageMaker health route, vLLM's ``/health``) answers 200;
        False for an error status or no connection. Never retried."""
        client = self._client.with_options(max_retries=0)
        try:
            await client._request_bytes(build_simple("GET", "/ping", root=True, options=options))
        except (APIError, APIConnectionError):
            return False
        return True

    async def scale_elastic_ep(self, new_data_parallel_size: int, *, drain_timeout: int | None = None,
                               **options: Unpack[CallOptions]) -> str:
        """Scale an elastic-EP deployment to ``new_data_parallel_size`` engines
        (``POST /scale_elastic_ep``; ``drain_timeout`` seconds for running requests, vLLM's
        default 120); returns the server's message. Scaling to the current size is a no-op;
        a server that cannot scale (one engine without Ray data parallelism) answers 500.
        While a scale runs the server answers every request 503 (retried as usual). Not
        retried itself: a scale is not a request to repeat blindly."""
        for name, value in (("new_data_parallel_size", new_data_parallel_size), ("drain_timeout", drain_timeout)):
            if value is None and name == "drain_timeout":
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an integer, got {value!r}")
            if value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        body: dict[str, Any] = {"new_data_parallel_size": new_data_parallel_size}
        if drain_timeout is not None:
            body["drain_timeout"] = drain_timeout
        client = self._client.with_options(max_retries=0)
        data, _ = await client._request_json(build_simple("POST", "/scale_elastic_ep", body=body, root=True,
                                                          options=options))
        return str(data.get("message", "")) if isinstance(data, dict) else str(data)

    async def is_scaling_elastic_ep(self, **options: Unpack[CallOptions]) -> bool:
        """Whether an elastic-EP scale is running (``POST /is_scaling_elastic_ep``)."""
        data, _ = await self._client._request_json(build_simple("POST", "/is_scaling_elastic_ep", root=True,
                                                                options=options))
        return bool(data.get("is_scaling_elastic_ep")) if isinstance(data, dict) else False

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
