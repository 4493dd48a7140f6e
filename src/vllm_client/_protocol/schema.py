"""JSON schemas from Python types and function signatures, for ``response_format=Type``
and ``@tool``: one derivation, so a type means the same thing in both places.

Pydantic models use pydantic's own schema (their ``$defs`` are hoisted to the root so the
``$ref``s stay valid when nested); dataclasses, TypedDicts and the typing constructs are
described by our small derivation, so pydantic stays optional. Nested dataclasses are
inlined (vLLM's grammar backends compile either form; inlining keeps the schema readable
for the model) and recursive ones are rejected.

Strict mode (``strict=True``) is the OpenAI rule set vLLM's ``strict`` tools follow: every
property required, ``additionalProperties: false`` on every object with properties, and
optional values written as ``anyOf [T, null]`` -- a model forced through the schema cannot
leave a key out, so "not given" has to be expressible as ``null``.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union, get_args, get_origin

import orjson

from .._tool_values import to_jsonable
from .._typed import is_pydantic_model, is_typeddict, strip_wrappers, type_hints, typeddict_fields

__all__ = ["Docstring", "function_parameters", "json_schema_for", "parse_docstring", "response_format_for",
           "strictify"]

_PRIMITIVES: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    None: {"type": "null"},
    Any: {},
    object: {},
}
_UNION_TYPES: tuple[Any, ...] = (Union, types.UnionType)
_NULL = {"type": "null"}


def json_schema_for(tp: Any, *, strict: bool = False) -> dict[str, Any]:
    """A JSON schema (the draft 2020-12 subset vLLM's grammar backends accept) for a type."""
    builder = _Builder()
    schema = builder.schema(tp)
    if builder.defs:
        schema = {**schema, "$defs": {**schema.get("$defs", {}), **builder.defs}}
    return strictify(schema) if strict else schema


def response_format_for(tp: type) -> dict[str, Any]:
    """``response_format`` asking vLLM to answer with JSON matching ``tp``'s schema."""
    return {
        "type": "json_schema",
        "json_schema": {"name": getattr(tp, "__name__", "response"), "schema": json_schema_for(tp), "strict": True},
    }


def _description_of(meta: Any) -> str | None:
    """``Annotated`` metadata that describes: a plain string, or anything with a string
    ``.description`` (pydantic's ``Field(description=...)``)."""
    if isinstance(meta, str):
        return meta
    desc = getattr(meta, "description", None)
    return desc if isinstance(desc, str) else None


class _Builder:
    def __init__(self) -> None:
        self.defs: dict[str, Any] = {}
        self._stack: list[Any] = []

    def schema(self, tp: Any) -> dict[str, Any]:
        if tp in _PRIMITIVES:
            return dict(_PRIMITIVES[tp])
        origin = get_origin(tp)
        args = get_args(tp)
        if origin is typing.Annotated:
            inner = self.schema(args[0])
            for meta in args[1:]:
                desc = _description_of(meta)
                if desc is not None:
                    inner["description"] = desc
            return inner
        if strip_wrappers(tp) is not tp:  # Required[...] / NotRequired[...]
            return self.schema(strip_wrappers(tp))
        if is_pydantic_model(tp):
            schema: dict[str, Any] = dict(tp.model_json_schema())
            self.defs.update(schema.pop("$defs", {}))
            return schema
        if origin is Literal:
            return {"enum": list(args)}
        if origin in _UNION_TYPES:
            return {"anyOf": [self.schema(a) for a in args]}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return {"enum": [m.value for m in tp]}
        if origin in (list, tuple, set, frozenset) or tp in (list, tuple, set, frozenset):
            return self._array(origin or tp, args)
        if origin in (dict, Mapping) or tp in (dict, Mapping):
            value = args[1] if len(args) == 2 else Any
            return {"type": "object", "additionalProperties": self.schema(value)}
        if (dataclasses.is_dataclass(tp) and isinstance(tp, type)) or is_typeddict(tp):
            return self._record(tp)
        raise TypeError(f"cannot derive a JSON schema for {getattr(tp, '__name__', None) or repr(tp)}")

    def _array(self, kind: Any, args: tuple[Any, ...]) -> dict[str, Any]:
        if kind is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return {"type": "array", "prefixItems": [self.schema(a) for a in args],
                    "minItems": len(args), "maxItems": len(args)}
        out: dict[str, Any] = {"type": "array", "items": self.schema(args[0] if args else Any)}
        if kind in (set, frozenset):
            out["uniqueItems"] = True
        return out

    def _record(self, tp: Any) -> dict[str, Any]:
        if tp in self._stack:
            raise TypeError(f"recursive type {tp.__name__} is not supported in a JSON schema")
        self._stack.append(tp)
        try:
            props: dict[str, Any] = {}
            required: list[str] = []
            if is_typeddict(tp):
                for spec in typeddict_fields(tp):
                    props[spec.name] = self.schema(spec.type)
                    if spec.required:
                        required.append(spec.name)
            else:
                hints = type_hints(tp)
                for f in dataclasses.fields(tp):
                    if not f.init:
                        continue
                    props[f.name] = self.schema(hints.get(f.name, Any))
                    desc = f.metadata.get("description")
                    if isinstance(desc, str):
                        props[f.name]["description"] = desc
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                        required.append(f.name)
        finally:
            self._stack.pop()
        return {"type": "object", "title": tp.__name__, "properties": props, "required": required,
                "additionalProperties": False}


# -- strict mode ----------------------------------------------------------------------------------------------


def _nullable(schema: Mapping[str, Any]) -> bool:
    if schema == {} or schema.get("type") == "null":
        return True
    t = schema.get("type")
    if isinstance(t, list) and "null" in t:
        return True
    options = schema.get("anyOf") or schema.get("oneOf") or ()
    return any(isinstance(o, Mapping) and _nullable(o) for o in options)


def strictify(schema: Any) -> Any:
    """A copy of ``schema`` in strict form (see the module docstring). Objects without
    ``properties`` (free-form ``dict[str, X]``) keep their ``additionalProperties``."""
    if isinstance(schema, list):
        return [strictify(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: (strictify(v) if k in _SUBSCHEMA_KEYS else v) for k, v in schema.items()}
    if isinstance(schema.get("properties"), dict):
        props = {k: strictify(v) for k, v in schema["properties"].items()}
        required = set(schema.get("required") or ())
        for key, prop in props.items():
            if key not in required and not _nullable(prop):
                outer = {k: prop.pop(k) for k in ("title", "description", "default") if k in prop}
                props[key] = {"anyOf": [prop, dict(_NULL)], **outer}
        out["properties"] = props
        out["required"] = list(props)
        out["additionalProperties"] = False
    if isinstance(schema.get("$defs"), dict):
        out["$defs"] = {k: strictify(v) for k, v in schema["$defs"].items()}
    return out


_SUBSCHEMA_KEYS = frozenset({"items", "prefixItems", "anyOf", "oneOf", "allOf", "additionalProperties", "not"})


# -- functions ------------------------------------------------------------------------------------------------


def _jsonable_default(value: Any) -> tuple[bool, Any]:
    try:
        return True, orjson.loads(orjson.dumps(value, default=to_jsonable))
    except TypeError:
        return False, None


def function_parameters(func: Callable[..., Any], *, strict: bool = False,
                        descriptions: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``parameters`` object of a tool from a function's signature and type hints.
    ``descriptions`` (from the docstring) are used where ``Annotated`` gives none.
    ``*args``/``**kwargs`` have no JSON form and are rejected."""
    name = getattr(func, "__qualname__", repr(func))
    sig = inspect.signature(func)
    hints = type_hints(func)
    builder = _Builder()
    props: dict[str, Any] = {}
    required: list[str] = []
    for param in sig.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            star = "*" if param.kind is param.VAR_POSITIONAL else "**"
            raise TypeError(f"tool {name}: {star}{param.name} cannot be described as a JSON parameter; "
                            "declare each parameter by name")
        try:
            prop = builder.schema(hints.get(param.name, Any))
        except TypeError as exc:
            raise TypeError(f"tool {name}, parameter {param.name!r}: {exc}") from None
        if "description" not in prop and descriptions and param.name in descriptions:
            prop["description"] = descriptions[param.name]
        if param.default is param.empty:
            required.append(param.name)
        else:
            ok, default = _jsonable_default(param.default)
            if ok:
                prop["default"] = default
        props[param.name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": props, "required": required,
                              "additionalProperties": False}
    if builder.defs:
        schema["$defs"] = builder.defs
    return strictify(schema) if strict else schema


# -- docstrings -----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Docstring:
    """What a tool needs from a docstring: the prose before the first section, and the
    parameter descriptions (Google ``Args:``, NumPy ``Parameters``, reST ``:param x:``)."""

    description: str
    params: dict[str, str]


_GOOGLE_HEADER = re.compile(
    r"^(args|arguments|attributes|examples?|keyword args|keyword arguments|methods|notes?|other parameters|"
    r"parameters|params|returns?|raises?|references|see also|todo|warnings?|warns|yields?)\s*:\s*$",
    re.IGNORECASE)
_GOOGLE_PARAM_SECTIONS = {"args", "arguments", "keyword args", "keyword arguments", "other parameters",
                          "parameters", "params"}
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:(.*)$")
_NUMPY_RULE = re.compile(r"^-{3,}\s*$")
_NUMPY_PARAM_SECTIONS = {"parameters", "other parameters", "keyword arguments", "params"}
_REST_FIELD = re.compile(r"^:(\w+)((?:\s+[^:]+?)?)\s*:(.*)$")
_REST_PARAM = {"param", "parameter", "arg", "argument", "key", "keyword"}


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _join(lines: list[str]) -> str:
    return " ".join(s.strip() for s in lines if s.strip())


def parse_docstring(doc: str | None) -> Docstring:
    """Split a docstring into its leading prose and per-parameter descriptions."""
    lines = inspect.cleandoc(doc or "").splitlines()
    params: dict[str, str] = {}
    first_section = len(lines)
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if _NUMPY_RULE.match(nxt) and line:
            first_section = min(first_section, i)
            i = _numpy_section(lines, i, params)
        elif _GOOGLE_HEADER.match(line):
            first_section = min(first_section, i)
            i = _google_section(lines, i, params)
        elif _REST_FIELD.match(line):
            first_section = min(first_section, i)
            i = _rest_field(lines, i, params)
        else:
            i += 1
    paragraphs = "\n".join(lines[:first_section]).split("\n\n")
    description = "\n\n".join(p for p in (_join(par.splitlines()) for par in paragraphs) if p)
    return Docstring(description, params)


def _google_section(lines: list[str], start: int, params: dict[str, str]) -> int:
    header_indent = _indent(lines[start])
    wanted = lines[start].strip().rstrip(":").strip().lower() in _GOOGLE_PARAM_SECTIONS
    i = start + 1
    entry_indent: int | None = None
    name: str | None = None
    body: list[str] = []
    while i < len(lines):
        raw = lines[i]
        if raw.strip() and _indent(raw) <= header_indent:
            break
        if raw.strip():
            if entry_indent is None:
                entry_indent = _indent(raw)
            if _indent(raw) == entry_indent:
                match = _GOOGLE_ENTRY.match(raw.strip())
                name = match.group(1) if match else None
                body = [match.group(2)] if match else []
            else:
                body.append(raw)
            if wanted and name is not None:
                params[name] = _join(body)
        i += 1
    return i


def _numpy_section(lines: list[str], start: int, params: dict[str, str]) -> int:
    wanted = lines[start].strip().lower() in _NUMPY_PARAM_SECTIONS
    i = start + 2
    names: list[str] = []
    desc: list[str] = []
    base = None
    while i < len(lines):
        raw = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if raw.strip() and _NUMPY_RULE.match(nxt):
            break  # the next section
        if raw.strip():
            if base is None:
                base = _indent(raw)
            if _indent(raw) == base:
                names = [n.strip().lstrip("*") for n in raw.split(":")[0].split(",")]
                desc = []
            else:
                desc.append(raw)
            if wanted:
                for n in names:
                    params[n] = _join(desc)
        i += 1
    return i


def _rest_field(lines: list[str], start: int, params: dict[str, str]) -> int:
    match = _REST_FIELD.match(lines[start].strip())
    assert match is not None
    kind, spec, text = match.groups()
    body = [text]
    base = _indent(lines[start])
    i = start + 1
    while i < len(lines) and lines[i].strip() and _indent(lines[i]) > base and \
            not _REST_FIELD.match(lines[i].strip()):
        body.append(lines[i])
        i += 1
    if kind in _REST_PARAM and spec.strip():
        params[spec.split()[-1]] = _join(body)
    return i
