"""JSON schemas from Python types, for ``response_format=Model`` and tools.

Pydantic models use pydantic's own schema; dataclasses and TypedDicts are described by
our small derivation (no pydantic needed).
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

__all__ = ["json_schema_for", "response_format_for"]

_PRIMITIVES: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    Any: {},
}


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__total__")


def json_schema_for(tp: Any) -> dict[str, Any]:
    """A JSON schema (draft 2020-12 subset vLLM's grammar backends accept) for a type."""
    if tp in _PRIMITIVES:
        return dict(_PRIMITIVES[tp])
    schema_fn = getattr(tp, "model_json_schema", None)
    if callable(schema_fn):
        result: dict[str, Any] = schema_fn()
        return result
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is typing.Annotated:
        inner = json_schema_for(args[0])
        for meta in args[1:]:
            if isinstance(meta, str):
                inner["description"] = meta
        return inner
    if origin is Literal:
        values = list(args)
        return {"enum": values}
    if origin in (Union, getattr(types, "UnionType", Union)):
        options = [json_schema_for(a) for a in args]
        return {"anyOf": options}
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple, set, frozenset):
        item = args[0] if (args and args[-1] is not Ellipsis) or len(args) == 2 else Any
        if origin is tuple and args and (len(args) != 2 or args[1] is not Ellipsis):
            return {"type": "array", "prefixItems": [json_schema_for(a) for a in args],
                    "minItems": len(args), "maxItems": len(args)}
        out: dict[str, Any] = {"type": "array", "items": json_schema_for(item if args else Any)}
        if origin in (set, frozenset):
            out["uniqueItems"] = True
        return out
    if origin is dict or tp is dict:
        value = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": json_schema_for(value)}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = get_type_hints(tp, include_extras=True)
        props: dict[str, Any] = {}
        required = []
        for f in dataclasses.fields(tp):
            props[f.name] = json_schema_for(hints.get(f.name, Any))
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.append(f.name)
        return {"type": "object", "title": tp.__name__, "properties": props, "required": required,
                "additionalProperties": False}
    if _is_typeddict(tp):
        hints = get_type_hints(tp, include_extras=True)
        req = getattr(tp, "__required_keys__", frozenset(hints))
        return {"type": "object", "title": tp.__name__,
                "properties": {k: json_schema_for(v) for k, v in hints.items()},
                "required": [k for k in hints if k in req], "additionalProperties": False}
    raise TypeError(f"cannot derive a JSON schema for {tp!r}")


def response_format_for(tp: type) -> dict[str, Any]:
    """``response_format`` asking vLLM to answer with JSON matching ``tp``'s schema."""
    return {
        "type": "json_schema",
        "json_schema": {"name": getattr(tp, "__name__", "response"), "schema": json_schema_for(tp), "strict": True},
    }
