"""Turning a Python value into the text of a ``role: tool`` message."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import orjson

__all__ = ["to_jsonable", "to_tool_content"]


def to_jsonable(value: Any) -> Any:
    """Plain JSON data from dataclass and pydantic instances (recursively via orjson's default)."""
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        return dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_tool_content(value: Any) -> str:
    """A str as is; anything else as JSON with non-ASCII characters kept, spaced the way
    ``json.dumps`` spaces it (``{"temp": 25}``): the form models see in their training
    data and the contract shows. Not a hot path, so the stdlib encoder is fine here."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and any(not isinstance(k, (str, int, float, bool)) and k is not None for k in value):
        value = orjson.loads(orjson.dumps(value, default=to_jsonable, option=orjson.OPT_NON_STR_KEYS))
    return json.dumps(value, ensure_ascii=False, default=to_jsonable)
