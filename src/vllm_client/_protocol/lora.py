"""Runtime LoRA adapter requests (``POST /v1/load_lora_adapter`` / ``unload_lora_adapter``). Pure.

vLLM 0.32 mounts these routes only when started with ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``
(and ``--enable-lora`` for the engine to take adapters). Success is a plain-text body
(``Success: LoRA adapter 'sql' added successfully.``), errors the usual JSON: loading a
loaded name is 400, a path without an adapter 404, an adapter the engine cannot take (rank
above ``--max-lora-rank``, unknown target modules) 500. ``lora_path`` is read by the server,
on its own disk: it is sent as given, never resolved here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .requests import RequestSpec, build_simple

__all__ = ["build_load", "build_unload"]


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"the adapter name must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError("the adapter name must not be empty")
    return value


def build_load(name: str, path: str | os.PathLike[str], *, load_inplace: bool, is_3d_lora_weight: bool,
               options: Mapping[str, Any]) -> RequestSpec:
    """``lora.load(name, path)`` -> ``POST /load_lora_adapter``."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a path, got {type(path).__name__}")
    lora_path = os.fspath(path)
    if not lora_path:
        raise ValueError("path must not be empty")
    body: dict[str, Any] = {"lora_name": _name(name), "lora_path": lora_path}
    if load_inplace:
        body["load_inplace"] = True
    if is_3d_lora_weight:
        body["is_3d_lora_weight"] = True
    return build_simple("POST", "/load_lora_adapter", body=body, options=options)


def build_unload(name: str, options: Mapping[str, Any]) -> RequestSpec:
    """``lora.unload(name)`` -> ``POST /unload_lora_adapter`` (a JSON body, not DELETE)."""
    return build_simple("POST", "/unload_lora_adapter", body={"lora_name": _name(name)}, options=options)
