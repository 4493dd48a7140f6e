"""The emulator's runtime LoRA adapters: ``/v1/load_lora_adapter`` and ``/v1/unload_lora_adapter``.

vLLM 0.32 (``openai/models/serving.py``) checks a load in this order: both fields given,
the name is not a base model, the name is not loaded yet (unless ``load_inplace``), then
the engine reads ``adapter_config.json`` under the path (missing: 404 ``NotFoundError``) and
validates it (a rank above ``--max-lora-rank``: 500 with the engine's message). Success is
a plain-text body without a content type. Loaded adapters are listed by ``/v1/models``
with ``root`` = their path and ``parent`` = the base model, and answer as models.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from . import _shapes as shapes
from . import _validate as val

__all__ = ["ROUTES", "Adapters"]

_POST = ("POST",)
ROUTES: dict[str, tuple[str, ...]] = {"/v1/load_lora_adapter": _POST, "/v1/unload_lora_adapter": _POST}

#: (status, headers, body) of an answer
Answer = tuple[int, list[tuple[str, str]], bytes]


def _json(problem: tuple[int, Any]) -> Answer:
    return problem[0], [("content-type", shapes.JSON)], shapes.dumps(problem[1])


def _user_error(message: str, status: int = 400, kind: str = "InvalidUserInput") -> Answer:
    return _json((status, shapes.error_body(message, kind, None, status)))


def _text(message: str) -> Answer:
    return 200, [], message.encode()


def _absolute(path: str) -> str:
    """``get_adapter_absolute_path``: absolute and ``~`` paths as given, relative ones if they exist."""
    if os.path.isabs(path):
        return path
    if path.startswith("~"):
        return os.path.expanduser(path)
    return os.path.abspath(path)


class Adapters:
    """The adapters a server holds (name -> path); safe to read from the test's thread.

    ``check_paths`` (True): a load reads ``adapter_config.json`` under its path, as vLLM does on
    its own disk; set it False to accept any path (an emulator standing in for a server whose
    disk the test machine does not have), with rank 8."""

    def __init__(self, preloaded: Mapping[str, str] | None = None, *, max_rank: int = 16) -> None:
        self._paths: dict[str, str] = dict(preloaded or {})
        self._lock = threading.Lock()
        self.max_rank = max_rank
        self.check_paths = True

    @property
    def names(self) -> list[str]:
        with self._lock:
            return list(self._paths)

    def cards(self, base: str, created: int) -> list[dict[str, Any]]:
        """The ``/v1/models`` entries of the loaded adapters (vLLM's ModelCard, key for key)."""
        with self._lock:
            items = list(self._paths.items())
        return [shapes.model_card(name, created, path, base, None) for name, path in items]

    def handle(self, path: str, content_type: str | None, raw: bytes, base_models: Sequence[str]) -> Answer:
        body, problem = val.parse_body(content_type, raw)
        if problem is None and not isinstance(body, dict):
            problem = val.invalid("", "model_attributes_type",
                                  "Input should be a valid dictionary or object to extract fields from", body)
        if problem is not None:
            return _json(problem)
        if path.endswith("/unload_lora_adapter"):
            return self._unload(body)
        return self._load(body, base_models)

    def _load(self, body: dict[str, Any], base_models: Sequence[str]) -> Answer:
        missing = [f for f in ("lora_name", "lora_path") if f not in body]
        if missing:
            return _json(val.missing(body, missing))
        for field in ("lora_name", "lora_path"):
            if not isinstance(body[field], str):
                return _json(val.invalid(field, "string_type", "Input should be a valid string", body[field]))
        name, lora_path = body["lora_name"], body["lora_path"]
        if not name or not lora_path:
            return _user_error("Both 'lora_name' and 'lora_path' must be provided.")
        if name in base_models:
            return _user_error(f"The lora adapter '{name}' conflicts with a served base model.")
        with self._lock:
            loaded = name in self._paths
        if loaded and not body.get("load_inplace"):
            return _user_error(f"The lora adapter '{name}' has already been loaded. If you want to load the "
                               "adapter in place, set 'load_inplace' to True.")
        config: Any = {"r": 8}
        if self.check_paths:
            try:
                with open(os.path.join(_absolute(lora_path), "adapter_config.json"), encoding="utf-8") as f:
                    config = json.load(f)
            except (OSError, ValueError):
                return _user_error(f"Loading lora {name} failed: No adapter found for {lora_path}", 404,
                                   "NotFoundError")
        rank = config.get("r") if isinstance(config, dict) else None
        if isinstance(rank, int) and rank > self.max_rank:
            return _user_error(f"Call to add_lora method failed: Worker failed with error 'LoRA rank {rank} is "
                               f"greater than max_lora_rank {self.max_rank}.', please check the stack trace above "
                               "for the root cause", 500, "InternalServerError")
        with self._lock:
            self._paths[name] = lora_path
        return _text(f"Success: LoRA adapter '{name}' added successfully.")

    def _unload(self, body: dict[str, Any]) -> Answer:
        if "lora_name" not in body:
            return _json(val.missing(body, ["lora_name"]))
        name = body["lora_name"]
        if not name:
            return _user_error("'lora_name' needs to be provided to unload a LoRA adapter.")
        with self._lock:
            if name not in self._paths:
                return _user_error(f"The lora adapter '{name}' cannot be found.", 404, "NotFoundError")
            del self._paths[name]
        return _text(f"Success: LoRA adapter '{name}' removed successfully.")
