"""``client.models``: what the server serves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import Unpack

from .._protocol.params import CallOptions
from .._protocol.requests import build_simple
from .._protocol.types import Model, ModelList

if TYPE_CHECKING:
    from .client import AsyncVllmClient

__all__ = ["AsyncModels"]


class AsyncModels:
    """``GET /v1/models``."""

    def __init__(self, client: AsyncVllmClient) -> None:
        self._client = client

    async def list(self, **options: Unpack[CallOptions]) -> ModelList:
        """The served models (base model and loaded LoRA adapters), with ``max_model_len``."""
        data, _ = await self._client._request_json(build_simple("GET", "/models", options=options))
        return ModelList(data)

    async def retrieve(self, model: str, **options: Unpack[CallOptions]) -> Model:
        """One served model by id (vLLM has no per-model route: read from the list)."""
        for m in await self.list(**options):
            if m.id == model:
                return m
        from .._errors import ModelNotFoundError

        raise ModelNotFoundError(f"The model `{model}` is not served", status_code=404, param="model")
