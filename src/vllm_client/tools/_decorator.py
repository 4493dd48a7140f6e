"""``@tool``: a typed Python function becomes an OpenAI tool (schema from the signature
and docstring) that still calls like the function it wraps."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import (
    Awaitable,
    Callable,
    Mapping,
)
from typing import Any, Protocol, TypeVar, cast, overload

from typing_extensions import ParamSpec

from .._errors import ToolArgumentsError
from .._json import dumps_str, loads
from .._protocol.schema import function_parameters, parse_docstring
from .._typed import ConversionError, FieldSpec, convert_fields, type_hints

__all__ = ["Tool", "as_tool", "tool"]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what OpenAI-compatible servers accept as a function name


class Tool(Protocol[P, R_co]):
    """What ``@tool`` returns: the function itself (same call, same sync/async nature)
    plus the tool description and an argument-converting ``call``."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def parameters(self) -> dict[str, Any]: ...
    @property
    def strict(self) -> bool: ...
    @property
    def schema(self) -> dict[str, Any]: ...
    @property
    def func(self) -> Callable[P, R_co]: ...
    @property
    def is_async(self) -> bool: ...

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def call(self, arguments: str | Mapping[str, Any]) -> R_co:
        """Run with model-written arguments (JSON text or a dict), converted to the
        annotated types first; :class:`ToolArgumentsError` if they do not fit. For an
        async function this returns the coroutine."""
        ...

    def bind(self, arguments: str | Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """The converted ``(args, kwargs)`` ``call`` would use."""
        ...


@overload
def tool(func: Callable[P, R], /) -> Tool[P, R]: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None, strict: bool = False
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...


def tool(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool = False,
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Describe a function as a tool, from its signature, type hints and docstring.

    ``@tool`` or ``@tool(name=..., description=..., strict=True)``. The name defaults to
    the function's, the description to the docstring's prose before its first section;
    parameter descriptions come from ``Annotated[T, "..."]`` (or pydantic ``Field``) or
    the docstring (Google, NumPy or reST style). ``strict=True`` makes the schema strict
    (every property required, optional ones nullable, no extra keys), which vLLM enforces
    while decoding; a ``null`` for a parameter with a default then means "use the default".
    """

    def decorate(f: Callable[P, R]) -> Tool[P, R]:
        return _make_tool(f, name=name, description=description, strict=strict)

    return decorate(func) if func is not None else decorate


def _make_tool(func: Callable[P, R], *, name: str | None, description: str | None, strict: bool) -> Tool[P, R]:
    if not callable(func):
        raise TypeError(f"@tool needs a function, got {type(func).__name__}")
    tool_name: str = name or str(getattr(func, "__name__", ""))
    if not _NAME_RE.match(tool_name):
        raise ValueError(f"tool name {tool_name!r} must be 1-64 letters, digits, '_' or '-'")
    doc = parse_docstring(inspect.getdoc(func))
    parameters = function_parameters(func, strict=strict, descriptions=doc.params)
    desc = doc.description if description is None else description
    fn: dict[str, Any] = {"name": tool_name}
    if desc:
        fn["description"] = desc
    fn["parameters"] = parameters
    if strict:
        fn["strict"] = True
    is_async = inspect.iscoroutinefunction(func)
    binder = _Binder(func, tool_name)

    if is_async:

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await cast(Callable[..., Awaitable[Any]], func)(*args, **kwargs)
    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            return func(*args, **kwargs)

    def call(arguments: str | Mapping[str, Any]) -> Any:
        args, kwargs = binder.bind(arguments)
        return func(*args, **kwargs)

    functools.update_wrapper(wrapper, func)
    attrs = {
        "name": tool_name,
        "description": desc,
        "parameters": parameters,
        "strict": strict,
        "schema": {"type": "function", "function": fn},
        "func": func,
        "is_async": is_async,
        "call": call,
        "bind": binder.bind,
        "__vllm_tool__": True,
    }
    for key, value in attrs.items():
        setattr(wrapper, key, value)
    return cast(Tool[P, R], wrapper)


class _Binder:
    """Model-written arguments -> the function's ``(args, kwargs)``, converted by ``_typed``."""

    def __init__(self, func: Callable[..., Any], name: str) -> None:
        sig = inspect.signature(func)
        hints = type_hints(func)
        self.name = name
        self.params = list(sig.parameters.values())
        self.fields = [FieldSpec(p.name, hints.get(p.name, Any), p.default is p.empty) for p in self.params]

    def bind(self, arguments: str | Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        if isinstance(arguments, str):
            text = arguments
            try:
                value = loads(text) if text.strip() else {}
            except ValueError as exc:
                raise ToolArgumentsError(
                    f"arguments of tool {self.name!r} are not valid JSON: {exc}", arguments=text, reason=str(exc)
                ) from None
        elif isinstance(arguments, Mapping):
            value = dict(arguments)
            text = dumps_str(value)
        else:
            raise TypeError(f"arguments must be a JSON str or a mapping, got {type(arguments).__name__}")
        try:
            kwargs = convert_fields(value, self.fields, "$", owner=f"tool {self.name!r}")
        except ConversionError as exc:
            raise ToolArgumentsError(
                f"arguments of tool {self.name!r} do not fit: {exc}", arguments=text, reason=str(exc)
            ) from None
        positional = [p for p in self.params if p.kind is p.POSITIONAL_ONLY]
        last = max((i for i, p in enumerate(positional) if p.name in kwargs), default=-1)
        args = [kwargs.pop(p.name, p.default) for p in positional[: last + 1]]
        return args, kwargs


def as_tool(obj: Any) -> Tool[..., Any]:
    """A ``@tool`` object as is; a plain function decorated on the fly."""
    if getattr(obj, "__vllm_tool__", False):
        return cast(Tool[..., Any], obj)
    if callable(obj):
        return tool(obj)
    raise TypeError(f"tools must be functions or @tool objects, got {type(obj).__name__}")
