# ruff: noqa: UP045  -- typing.Optional is what these tests are about
"""@tool: schema derivation over a table of signatures and docstrings, strict mode, errors,
the decorated function staying what it was, and .call() converting arguments."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import inspect
from typing import Annotated, Any, Literal, Optional, Union

import pydantic
import pytest
from typing_extensions import NotRequired, TypedDict

from vllm_client import ToolArgumentsError
from vllm_client._protocol.schema import json_schema_for, parse_docstring, response_format_for, strictify
from vllm_client.tools import tool


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Address:
    street: str
    zip: Optional[str] = None


@dataclasses.dataclass
class Person:
    name: Annotated[str, "Full name"]
    address: Address
    age: int = dataclasses.field(default=0, metadata={"description": "Years"})


class Box(TypedDict):
    w: int
    h: int
    label: NotRequired[str]


class Query(pydantic.BaseModel):
    text: str = pydantic.Field(description="What to look for")
    limit: int = 10


class Nested(pydantic.BaseModel):
    queries: list[Query]


@dataclasses.dataclass
class Loop:
    child: Optional[Loop] = None


# -- a table of signatures: each function's one parameter `x` and the schema expected for it -------------

def f_str(x: str) -> None: ...
def f_int(x: int) -> None: ...
def f_float(x: float) -> None: ...
def f_bool(x: bool) -> None: ...
def f_none(x: None) -> None: ...
def f_optional(x: Optional[int]) -> None: ...
def f_pipe_none(x: int | None) -> None: ...
def f_union(x: Union[int, str]) -> None: ...
def f_literal(x: Literal["a", "b"]) -> None: ...
def f_enum(x: Color) -> None: ...
def f_int_enum(x: Level) -> None: ...
def f_list(x: list[int]) -> None: ...
def f_bare_list(x: list) -> None: ...  # type: ignore[type-arg]
def f_tuple_var(x: tuple[str, ...]) -> None: ...
def f_tuple_fixed(x: tuple[int, str]) -> None: ...
def f_set(x: set[str]) -> None: ...
def f_dict(x: dict[str, float]) -> None: ...
def f_any(x: Any) -> None: ...
def f_unannotated(x) -> None: ...  # type: ignore[no-untyped-def]
def f_annotated(x: Annotated[int, "How many"]) -> None: ...
def f_field(x: Annotated[int, pydantic.Field(description="From Field")]) -> None: ...
def f_dataclass(x: Address) -> None: ...
def f_typeddict(x: Box) -> None: ...


ADDRESS = {"type": "object", "title": "Address", "properties": {"street": {"type": "string"},
           "zip": {"anyOf": [{"type": "string"}, {"type": "null"}]}}, "required": ["street"],
           "additionalProperties": False}

TABLE: list[tuple[Any, dict[str, Any]]] = [
    (f_str, {"type": "string"}),
    (f_int, {"type": "integer"}),
    (f_float, {"type": "number"}),
    (f_bool, {"type": "boolean"}),
    (f_none, {"type": "null"}),
    (f_optional, {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
    (f_pipe_none, {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
    (f_union, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    (f_literal, {"enum": ["a", "b"]}),
    (f_enum, {"enum": ["red", "blue"]}),
    (f_int_enum, {"enum": [1, 2]}),
    (f_list, {"type": "array", "items": {"type": "integer"}}),
    (f_bare_list, {"type": "array", "items": {}}),
    (f_tuple_var, {"type": "array", "items": {"type": "string"}}),
    (f_tuple_fixed, {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}],
                     "minItems": 2, "maxItems": 2}),
    (f_set, {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
    (f_dict, {"type": "object", "additionalProperties": {"type": "number"}}),
    (f_any, {}),
    (f_unannotated, {}),
    (f_annotated, {"type": "integer", "description": "How many"}),
    (f_field, {"type": "integer", "description": "From Field"}),
    (f_dataclass, ADDRESS),
    (f_typeddict, {"type": "object", "title": "Box", "properties": {"w": {"type": "integer"},
                   "h": {"type": "integer"}, "label": {"type": "string"}}, "required": ["w", "h"],
                   "additionalProperties": False}),
]


@pytest.mark.parametrize(("func", "expected"), TABLE, ids=[f.__name__ for f, _ in TABLE])
def test_parameter_schema_table(func: Any, expected: dict[str, Any]) -> None:
    t = tool(func)
    params = t.schema["function"]["parameters"]
    assert params["properties"]["x"] == expected
    assert params["required"] == ["x"] and params["type"] == "object"
    assert params["additionalProperties"] is False
    assert t.schema["type"] == "function" and t.schema["function"]["name"] == func.__name__
    assert "strict" not in t.schema["function"] and t.strict is False


def nested_models(person: Person, search: Nested) -> None:
    """Nested dataclasses and pydantic models."""


def test_nested_dataclass_and_pydantic_models() -> None:
    params = tool(nested_models).parameters
    person = params["properties"]["person"]
    assert person["properties"]["address"] == ADDRESS
    assert person["properties"]["name"] == {"type": "string", "description": "Full name"}
    assert person["properties"]["age"] == {"type": "integer", "description": "Years"}
    assert person["required"] == ["name", "address"]
    # pydantic's $defs are hoisted to the root, so its $refs resolve
    search = params["properties"]["search"]
    assert search["properties"]["queries"]["items"] == {"$ref": "#/$defs/Query"}
    assert params["$defs"]["Query"]["properties"]["text"]["description"] == "What to look for"


# -- docstrings ---------------------------------------------------------------------------------


def google(city: str, days: int = 3, *, unit: Literal["c", "f"] = "c") -> None:
    """Forecast for a city.

    Looks a few days ahead.

    Args:
        city: The city name,
            possibly with a country.
        days (int): How many days.
        unit: Temperature unit.

    Returns:
        The forecast.
    """


def numpy_style(city: str, days: int = 3) -> None:
    """Forecast for a city.

    Parameters
    ----------
    city : str
        The city name,
        possibly with a country.
    days : int, optional
        How many days.

    Returns
    -------
    dict
        The forecast.
    """


def rest_style(city: str, days: int = 3) -> None:
    """Forecast for a city.

    :param city: The city name,
        possibly with a country.
    :param int days: How many days.
    :type city: str
    :returns: The forecast.
    """


def no_doc(city: str) -> None:
    pass


@pytest.mark.parametrize("func", [google, numpy_style, rest_style], ids=["google", "numpy", "rest"])
def test_docstring_styles(func: Any) -> None:
    fn = tool(func).schema["function"]
    assert fn["description"].startswith("Forecast for a city.")
    props = fn["parameters"]["properties"]
    assert props["city"]["description"] == "The city name, possibly with a country."
    assert props["days"] == {"type": "integer", "description": "How many days.", "default": 3}
    assert fn["parameters"]["required"] == ["city"]
    assert "Returns" not in fn["description"] and "forecast." not in fn["description"]


def test_google_description_keeps_paragraphs_and_keyword_only_params() -> None:
    fn = tool(google).schema["function"]
    assert fn["description"] == "Forecast for a city.\n\nLooks a few days ahead."
    assert fn["parameters"]["properties"]["unit"] == {"enum": ["c", "f"], "description": "Temperature unit.",
                                                      "default": "c"}


def test_no_docstring_no_description() -> None:
    fn = tool(no_doc).schema["function"]
    assert "description" not in fn and "description" not in fn["parameters"]["properties"]["city"]


def test_parse_docstring_direct() -> None:
    doc = parse_docstring("Summary line\ncontinued.\n\nArgs:\n    a: first\n    b: second\n\nRaises:\n    X: never")
    assert doc.description == "Summary line continued."
    assert doc.params == {"a": "first", "b": "second"}
    assert parse_docstring(None).description == "" and parse_docstring(None).params == {}


def annotated_beats_docstring(x: Annotated[int, "from Annotated"]) -> None:
    """Doc.

    Args:
        x: from the docstring
    """


def test_annotated_description_wins_over_docstring() -> None:
    assert tool(annotated_beats_docstring).parameters["properties"]["x"]["description"] == "from Annotated"


# -- defaults and required ----------------------------------------------------------------------


def defaults(a: int, b: str = "x", c: Optional[float] = None, d: Color = Color.BLUE,
             e: tuple[int, int] = (1, 2), f: object = object()) -> None: ...


def test_defaults_included_when_jsonable() -> None:
    params = tool(defaults).parameters
    assert params["required"] == ["a"]
    props = params["properties"]
    assert props["b"]["default"] == "x" and props["c"]["default"] is None
    assert props["d"]["default"] == "blue" and props["e"]["default"] == [1, 2]
    assert "default" not in props["f"]  # not JSON: left out


# -- strict mode --------------------------------------------------------------------------------


def strict_fn(city: str, person: Person, days: int = 3, note: Optional[str] = None,
              extra: dict[str, int] | None = None) -> None:
    """Strict one."""


def _objects(schema: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(schema, dict):
        if "properties" in schema:
            found.append(schema)
        for v in schema.values():
            found += _objects(v)
    elif isinstance(schema, list):
        for v in schema:
            found += _objects(v)
    return found


def test_strict_mode_schema() -> None:
    t = tool(name="strict_tool", description="Custom.", strict=True)(strict_fn)
    fn = t.schema["function"]
    assert fn["strict"] is True and t.strict is True and t.name == "strict_tool" == fn["name"]
    assert fn["description"] == "Custom."
    params = fn["parameters"]
    assert params["required"] == ["city", "person", "days", "note", "extra"]
    assert params["properties"]["days"] == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": 3}
    assert params["properties"]["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]  # not double-wrapped
    objects = _objects(params)
    assert len(objects) == 3  # parameters, Person, Address
    for obj in objects:
        assert obj["additionalProperties"] is False and obj["required"] == list(obj["properties"])
    address = params["properties"]["person"]["properties"]["address"]
    assert address["properties"]["zip"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    # a free-form dict keeps its value schema (strict forbids extra keys only where keys are declared)
    assert params["properties"]["extra"]["anyOf"][0] == {"type": "object", "additionalProperties": {"type": "integer"}}


def test_strict_pydantic_defs_are_strict_too() -> None:
    params = tool(strict=True)(nested_models).parameters
    query = params["$defs"]["Query"]
    assert query["required"] == ["text", "limit"] and query["additionalProperties"] is False
    assert query["properties"]["limit"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]


def test_strictify_does_not_touch_its_input() -> None:
    schema = json_schema_for(Address)
    strictify(schema)
    assert schema == ADDRESS


# -- response_format stays on the same derivation --------------------------------------------------


def test_response_format_for_uses_the_same_schema() -> None:
    rf = response_format_for(Person)
    assert rf["json_schema"]["name"] == "Person" and rf["json_schema"]["strict"] is True
    assert rf["json_schema"]["schema"]["properties"]["address"] == ADDRESS
    assert json_schema_for(Query)["properties"]["text"]["description"] == "What to look for"


# -- errors -------------------------------------------------------------------------------------


def star_args(*names: str) -> None: ...
def star_kwargs(a: int, **options: Any) -> None: ...
def bad_type(x: bytes) -> None: ...
def bad_nested(x: list[complex]) -> None: ...
def recursive(x: Loop) -> None: ...


@pytest.mark.parametrize(("func", "words"), [
    (star_args, "*names cannot be described"),
    (star_kwargs, "**options cannot be described"),
    (bad_type, "parameter 'x': cannot derive a JSON schema for bytes"),
    (bad_nested, "cannot derive a JSON schema for complex"),
    (recursive, "recursive type Loop"),
])
def test_unsupported_signatures_raise_type_error(func: Any, words: str) -> None:
    with pytest.raises(TypeError) as info:
        tool(func)
    assert words in str(info.value) and func.__name__ in str(info.value)


def test_bad_names_rejected() -> None:
    with pytest.raises(ValueError, match="tool name 'has space'"):
        tool(name="has space")(f_int)
    with pytest.raises(TypeError, match="needs a function"):
        tool(42)  # type: ignore[call-overload]


# -- the decorated function is still itself ------------------------------------------------------


@tool
def add(a: int, b: int = 1) -> int:
    """Add two numbers."""
    return a + b


@tool(strict=True)
async def fetch(city: str, days: int = 2) -> str:
    """Fetch something."""
    await asyncio.sleep(0)
    return f"{city}:{days}"


def test_sync_tool_stays_sync() -> None:
    assert add(2, 3) == 5 and add(a=2) == 3
    assert not inspect.iscoroutinefunction(add) and add.is_async is False
    assert add.__name__ == "add" and add.__doc__ == "Add two numbers." and add.name == "add"
    assert inspect.signature(add) == inspect.signature(add.func)
    assert add.description == "Add two numbers." and add.parameters == add.schema["function"]["parameters"]


def test_async_tool_stays_a_coroutine_function() -> None:
    assert inspect.iscoroutinefunction(fetch) and asyncio.iscoroutinefunction(fetch) and fetch.is_async
    assert asyncio.run(fetch("Oslo")) == "Oslo:2"
    coro = fetch.call('{"city": "Rome", "days": 5}')
    assert inspect.iscoroutine(coro) and asyncio.run(coro) == "Rome:5"
    # strict: null for a defaulted parameter means "use the default"
    assert asyncio.run(fetch.call({"city": "Rome", "days": None})) == "Rome:2"


# -- .call() converts --------------------------------------------------------------------------


@tool
def book(person: Person, colors: list[Color], when: Literal["am", "pm"] = "am", /) -> dict[str, Any]:
    return {"person": person, "colors": colors, "when": when}


def test_call_converts_to_annotated_types() -> None:
    out = book.call('{"person": {"name": "Ann", "address": {"street": "Main"}}, "colors": ["red", "blue"]}')
    assert out["person"] == Person("Ann", Address("Main"))
    assert out["colors"] == [Color.RED, Color.BLUE] and out["when"] == "am"
    args, kwargs = book.bind({"person": {"name": "B", "address": {"street": "S"}}, "colors": [], "when": "pm"})
    assert len(args) == 3 and kwargs == {} and args[2] == "pm"  # positional-only passed positionally


@pytest.mark.parametrize(("arguments", "reason"), [
    ('{"b": 2}', "$.a: missing required field of tool 'add'"),
    ('{"a": "2"}', "$.a: expected integer, got string '2'"),
    ('{"a": 1, "c": 3}', "$.c: unexpected field for tool 'add' (allowed: a, b)"),
    ('{"a": 1', "unexpected end of data"),
    ('[1]', "$: expected an object for tool 'add', got array"),
])
def test_call_rejects_bad_arguments(arguments: str, reason: str) -> None:
    with pytest.raises(ToolArgumentsError) as info:
        add.call(arguments)
    assert info.value.arguments == arguments and reason in info.value.reason


def test_call_with_dict_and_wrong_kind() -> None:
    assert add.call({"a": 4, "b": 5}) == 9
    with pytest.raises(ToolArgumentsError) as info:
        add.call({"a": None})
    assert info.value.arguments == '{"a":null}'
    with pytest.raises(TypeError):
        add.call(3)  # type: ignore[arg-type]
