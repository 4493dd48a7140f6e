"""JSON value + Python type -> instance, with errors that name the offending field.

Tool-call arguments come from a model, so they are checked rather than trusted: a wrong
type is reported (``$.items[2].qty: expected integer, got string "3"``) so the message can
go back to the model, instead of a number silently becoming a string. The only lenient
conversions are the ones JSON forces on us: an integer where a float is wanted, an array
for a tuple/set, a string key for an ``int`` dict key.

Pure: no I/O, no pydantic import unless the target type is a pydantic model.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin

import typing_extensions

__all__ = [
    "ConversionError",
    "FieldSpec",
    "admits_none",
    "convert",
    "convert_fields",
    "is_pydantic_model",
    "is_typeddict",
    "strip_wrappers",
    "type_hints",
    "typeddict_fields",
]

_UNION_TYPES: tuple[Any, ...] = (Union, types.UnionType)
_WRAPPERS = {typing.Annotated, typing_extensions.Required, typing_extensions.NotRequired, typing_extensions.ReadOnly}
_JSON_NAMES = {dict: "object", list: "array", str: "string", int: "integer", float: "number",
               bool: "boolean", type(None): "null"}


class ConversionError(ValueError):
    """A JSON value that does not fit a type. ``path`` is JSONPath-like (``$.a.b[0]``)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One named field of an object-like target (dataclass field, TypedDict key, parameter)."""

    name: str
    type: Any
    required: bool


def is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__total__")


def is_pydantic_model(tp: Any) -> bool:
    return isinstance(tp, type) and callable(getattr(tp, "model_validate", None)) \
        and callable(getattr(tp, "model_json_schema", None))


def strip_wrappers(tp: Any) -> Any:
    """``Annotated[X, ...]``, ``Required[X]``, ``NotRequired[X]`` -> ``X``."""
    while get_origin(tp) in _WRAPPERS:
        tp = get_args(tp)[0]
    return tp


def type_hints(obj: Any) -> dict[str, Any]:
    """``get_type_hints`` with ``Annotated`` kept; a clear error for unresolvable names."""
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except NameError as exc:
        raise TypeError(f"cannot resolve the type hints of {getattr(obj, '__qualname__', obj)!r}: {exc} "
                        "(types used in annotations must be importable at module level)") from None


def _describe(value: Any) -> str:
    kind = _JSON_NAMES.get(type(value), type(value).__name__)
    if isinstance(value, (dict, list)):
        return kind
    text = repr(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp).replace("typing.", "")


def convert(value: Any, tp: Any, path: str = "$") -> Any:
    """``value`` (plain JSON data) as an instance of ``tp``; :class:`ConversionError` if it
    does not fit. Raises ``TypeError`` for a type this module cannot build (a programming
    error, not bad input)."""
    tp = strip_wrappers(tp)
    if tp is Any or tp is object:
        return value
    if tp is None or tp is type(None):
        if value is None:
            return None
        raise ConversionError(path, f"expected null, got {_describe(value)}")
    if tp in (str, int, float, bool):
        return _primitive(value, tp, path)
    origin = get_origin(tp)
    args = get_args(tp)
    if origin in _UNION_TYPES:
        return _union(value, args, path)
    if origin is Literal:
        for option in args:
            if value == option and type(value) is type(option):
                return option
        raise ConversionError(path, f"expected one of {list(args)!r}, got {_describe(value)}")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = [m.value for m in tp]
            raise ConversionError(path, f"expected one of {allowed!r}, got {_describe(value)}") from None
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple, set, frozenset):
        return _sequence(value, origin or tp, args, path)
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return _mapping(value, args, path)
    if is_pydantic_model(tp):
        return _pydantic(value, tp, path)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = type_hints(tp)
        specs = [FieldSpec(f.name, hints.get(f.name, Any),
                           f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
                 for f in dataclasses.fields(tp) if f.init]
        return tp(**convert_fields(value, specs, path, owner=tp.__name__))
    if is_typeddict(tp):
        return convert_fields(value, typeddict_fields(tp), path, owner=tp.__name__)
    raise TypeError(f"cannot convert JSON to {_type_name(tp)}")


def typeddict_fields(tp: Any) -> list[FieldSpec]:
    """A TypedDict's keys. ``Required``/``NotRequired`` are read from the hints too:
    ``__required_keys__`` is wrong when the annotations are strings (``from __future__
    import annotations``)."""
    hints = type_hints(tp)
    required = getattr(tp, "__required_keys__", frozenset(hints))
    specs = []
    for key, hint in hints.items():
        origin = get_origin(hint)
        while origin is typing.Annotated:
            hint = get_args(hint)[0]
            origin = get_origin(hint)
        is_required = key in required
        if origin is typing_extensions.NotRequired:
            is_required = False
        elif origin is typing_extensions.Required:
            is_required = True
        specs.append(FieldSpec(key, hint, is_required))
    return specs


def convert_fields(value: Any, fields: list[FieldSpec], path: str, *, owner: str) -> dict[str, Any]:
    """An object's keys checked against named fields: required ones present, no unknown
    ones (a misspelt argument is an error the model can fix, not something to drop)."""
    if not isinstance(value, dict):
        raise ConversionError(path, f"expected an object for {owner}, got {_describe(value)}")
    known = {f.name: f for f in fields}
    unknown = [k for k in value if k not in known]
    if unknown:
        raise ConversionError(f"{path}.{unknown[0]}", f"unexpected field for {owner} "
                              f"(allowed: {', '.join(known) or 'none'})")
    out: dict[str, Any] = {}
    for f in fields:
        if value.get(f.name, 0) is None and not f.required and not admits_none(f.type):
            continue  # strict schemas make the model write null for "not given": use the default
        if f.name in value:
            out[f.name] = convert(value[f.name], f.type, f"{path}.{f.name}")
        elif f.required:
            raise ConversionError(f"{path}.{f.name}", f"missing required field of {owner}")
    return out


def admits_none(tp: Any) -> bool:
    """Whether ``None`` is a valid value of ``tp`` (``Any``, ``None``, ``X | None``)."""
    tp = strip_wrappers(tp)
    if tp is Any or tp is object or tp is None or tp is type(None):
        return True
    return get_origin(tp) in _UNION_TYPES and any(admits_none(a) for a in get_args(tp))


def _primitive(value: Any, tp: type, path: str) -> Any:
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if type(value) is tp:  # bool is not an int here: JSON true is no answer to "integer"
        return value
    if tp is int and isinstance(value, float) and value.is_integer():
        return int(value)  # 3.0 from a model that writes every number as a float
    raise ConversionError(path, f"expected {_JSON_NAMES[tp]}, got {_describe(value)}")


def _union(value: Any, args: tuple[Any, ...], path: str) -> Any:
    # An exact JSON-type match wins (``int | str`` with "3" stays a str), then the first
    # option that converts.
    for option in args:
        if strip_wrappers(option) is type(value) and type(value) in _JSON_NAMES:
            return value
    problems = []
    for option in args:
        try:
            return convert(value, option, path)
        except ConversionError as exc:
            problems.append(exc.problem)
    names = " | ".join(_type_name(strip_wrappers(a)) for a in args)
    raise ConversionError(path, f"expected {names}, got {_describe(value)} ({'; '.join(problems)})")


def _sequence(value: Any, kind: Any, args: tuple[Any, ...], path: str) -> Any:
    if not isinstance(value, list):
        raise ConversionError(path, f"expected an array, got {_describe(value)}")
    if kind is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        if args == ((),):  # tuple[()]
            args = ()
        if len(value) != len(args):
            raise ConversionError(path, f"expected an array of {len(args)} items, got {len(value)}")
        return tuple(convert(v, t, f"{path}[{i}]") for i, (v, t) in enumerate(zip(value, args, strict=True)))
    item = args[0] if args else Any
    items = [convert(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
    if kind in (set, frozenset):
        try:
            return kind(items)
        except TypeError as exc:
            raise ConversionError(path, f"items cannot form a set: {exc}") from None
    return tuple(items) if kind is tuple else items


def _mapping(value: Any, args: tuple[Any, ...], path: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise ConversionError(path, f"expected an object, got {_describe(value)}")
    key_tp, val_tp = args if len(args) == 2 else (Any, Any)
    out: dict[Any, Any] = {}
    for k, v in value.items():
        key: Any = k
        if strip_wrappers(key_tp) is int:
            try:
                key = int(k)
            except ValueError:
                raise ConversionError(f"{path}.{k}", "expected an integer key") from None
        elif key_tp is not Any and key_tp is not str:
            key = convert(k, key_tp, f"{path}.{k}")
        out[key] = convert(v, val_tp, f"{path}.{k}")
    return out


def _drop_default_nulls(value: Any, tp: Any) -> Any:
    """Drop ``null`` for pydantic fields that have a default and do not admit None, at any
    depth (strict schemas make the model write null for "not given", as above)."""
    tp = strip_wrappers(tp)
    if is_pydantic_model(tp) and isinstance(value, dict):
        fields = tp.model_fields
        return {k: _drop_default_nulls(v, fields[k].annotation) if k in fields else v
                for k, v in value.items()
                if not (v is None and k in fields and not fields[k].is_required()
                        and not admits_none(fields[k].annotation))}
    args = get_args(tp)
    if isinstance(value, list) and args:
        return [_drop_default_nulls(v, args[0]) for v in value]
    if isinstance(value, dict) and len(args) == 2:
        return {k: _drop_default_nulls(v, args[1]) for k, v in value.items()}
    if get_origin(tp) in _UNION_TYPES:
        models = [a for a in args if is_pydantic_model(strip_wrappers(a))]
        if len(models) == 1:
            return _drop_default_nulls(value, models[0])
    return value


def _pydantic(value: Any, tp: Any, path: str) -> Any:
    import pydantic  # present: tp is a pydantic model

    value = _drop_default_nulls(value, tp)
    try:
        return tp.model_validate(value)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.get("loc", ()))
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConversionError(f"{path}{loc}", f"{first.get('msg', 'invalid')}{more}") from None
