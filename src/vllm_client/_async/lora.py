"""``client.lora``: load and unload LoRA adapters on a running server.

The server must run with ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`` and ``--enable-lora``
(without the variable the routes do not exist: 404). A loaded adapter is served under its
name: pass ``model=<name>`` to chat, completions or any other endpoint, and it is listed
by ``models.list()`` with ``parent`` = the base model.
"""

from __future__ import annotations

import builtins
import os
from typing import TYPE_CHECKING

from typing_extensions import Unpack

from .._protocol.lora import build_load, build_unload
from .._protocol.params import CallOptions
from .._protocol.types import Model

if TYPE_CHECKING:
    from .client import AsyncVllmClient

__all__ = ["AsyncLora"]


class AsyncLora:
    """``POST /v1/load_lora_adapter`` and ``/v1/unload_lora_adapter``; adapters from ``/v1/models``."""

    def __init__(self, client: AsyncVllmClient) -> None:
        self._client = client

    async def load(self, name: str, path: str | os.PathLike[str], *, load_inplace: bool = False,
                   is_3d_lora_weight: bool = False, **options: Unpack[CallOptions]) -> str:
        """Load the adapter at ``path`` (a directory on the *server's* disk holding
        ``adapter_config.json`` and ``adapter_model.safetensors``) under ``name``; returns
        the server's message. ``load_inplace=True`` replaces an adapter of that name
        (otherwise loading a loaded name is a :class:`BadRequestError`); a path without an
        adapter is a :class:`NotFoundError`. Not retried on error answers: a load is not
        idempotent (a retried load that had succeeded would answer 400)."""
        spec = build_load(name, path, load_inplace=load_inplace, is_3d_lora_weight=is_3d_lora_weight,
                          options=options)
        body, _, _ = await self._client.with_options(max_retries=0)._request_bytes(spec)
        return body.decode("utf-8", "replace")

    async def unload(self, name: str, **options: Unpack[CallOptions]) -> str:
        """Forget the adapter ``name`` (:class:`NotFoundError` if it is not loaded); returns
        the server's message. (vLLM 0.32 only drops the name: the engine keeps its cached
        copy until evicted.)"""
        body, _, _ = await self._client.with_options(max_retries=0)._request_bytes(build_unload(name, options))
        return body.decode("utf-8", "replace")

    async def list(self, **options: Unpack[CallOptions]) -> builtins.list[Model]:
        """The loaded adapters: the served models that have a ``parent`` (the base model)."""
        return [m for m in await self._client.models.list(**options) if m.parent]
