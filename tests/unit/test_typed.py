# ruff: noqa: UP045  -- typing.Optional is what these tests are about
"""ToolCall.parse_args_as / _typed.convert: pydantic models, dataclasses, TypedDicts and
plain types, success and failure, with errors naming the field path."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Annotated, Any, Literal, Optional, Union

import pydantic
import pytest
from typing_extensions import NotRequired, TypedDict

from vllm_client import ToolArgumentsError, ToolCall
from vllm_client._typed import ConversionError, convert


def call(arguments: Any, name: str = "f") -> ToolCall:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ToolCall({"id": "call-1", "type": "function", "function": {"name": name, "arguments": text}})


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


@dataclasses.dataclass
class Item:
    name: str
    qty: int = 1


@dataclasses.dataclass
class Order:
    city: str
    items: list[Item]
    unit: Unit = Unit.C
    mode: Literal["fast", "slow"] = "slow"
    note: Optional[str] = None
    tags: tuple[str, ...] = ()
    ratio: float = 1.0


class Point(TypedDict):
    x: int
    y: int
    label: NotRequired[str]


class Weather(pydantic.BaseModel):
    location: str
    days: int = pydantic.Field(default=1, ge=1, le=10)
    unit: Unit = Unit.C


class Trip(pydantic.BaseModel):
    stops: list[Weather]


# -- success ------------------------------------------------------------------------------------


def test_dataclass_nested_enum_literal_optional() -> None:
    order = call({"city": "Oslo", "items": [{"name": "a"}, {"name": "b", "qty": 3}], "unit": "fahrenheit",
                  "mode": "fast", "tags": ["x", "y"], "ratio": 2}).parse_args_as(Order)
    assert order == Order("Oslo", [Item("a", 1), Item("b", 3)], Unit.F, "fast", None, ("x", "y"), 2.0)
    assert isinstance(order.items[0], Item) and order.unit is Unit.F
    assert isinstance(order.ratio, float) and isinstance(order.tags, tuple)


def test_dataclass_null_for_a_defaulted_field_means_default() -> None:
    # strict schemas make the model write null for "not given"
    order = call({"city": "Oslo", "items": [], "unit": None, "note": None}).parse_args_as(Order)
    assert order.unit is Unit.C and order.note is None


def test_typeddict_checked_and_returned_as_dict() -> None:
    assert call({"x": 1, "y": 2}).parse_args_as(Point) == {"x": 1, "y": 2}
    assert call({"x": 1, "y": 2, "label": "p"}).parse_args_as(Point) == {"x": 1, "y": 2, "label": "p"}


def test_pydantic_model() -> None:
    w = call({"location": "Tokyo", "days": 3, "unit": "fahrenheit"}).parse_args_as(Weather)
    assert isinstance(w, Weather) and w.days == 3 and w.unit is Unit.F
    trip = call({"stops": [{"location": "A"}, {"location": "B", "days": None}]}).parse_args_as(Trip)
    assert [s.location for s in trip.stops] == ["A", "B"] and trip.stops[1].days == 1


@pytest.mark.parametrize(("tp", "value", "expected"), [
    (dict, {"a": 1}, {"a": 1}),
    (dict[str, int], {"a": 1}, {"a": 1}),
    (dict[int, str], {"1": "x"}, {1: "x"}),
    (list, [1, "a"], [1, "a"]),
    (list[int], [1, 2], [1, 2]),
    (set[str], ["a", "b", "a"], {"a", "b"}),
    (tuple[int, str], [1, "a"], (1, "a")),
    (Union[int, str], "3", "3"),
    (Union[int, str], 3, 3),
    (Optional[int], None, None),
    (Annotated[int, "desc"], 4, 4),
    (float, 2, 2.0),
    (int, 3.0, 3),
    (Any, {"k": [1]}, {"k": [1]}),
])
def test_plain_types(tp: Any, value: Any, expected: Any) -> None:
    out = convert(value, tp)
    assert out == expected and type(out) is type(expected)


def test_empty_arguments_are_an_empty_object() -> None:
    assert call("").parse_args_as(dict) == {}


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tp", "args", "path", "words"), [
    (Order, {"city": "Oslo", "items": [{"name": "a"}, {"name": "b", "qty": "3"}]}, "$.items[1].qty",
     "expected integer, got string '3'"),
    (Order, {"items": []}, "$.city", "missing required field of Order"),
    (Order, {"city": "Oslo", "items": [], "unit": "kelvin"}, "$.unit", "expected one of ['celsius', 'fahrenheit']"),
    (Order, {"city": "Oslo", "items": [], "mode": "medium"}, "$.mode", "expected one of ['fast', 'slow']"),
    (Order, {"city": "Oslo", "items": [], "colour": "red"}, "$.colour", "unexpected field for Order"),
    (Order, {"city": "Oslo", "items": {"name": "a"}}, "$.items", "expected an array, got object"),
    (Order, {"city": True, "items": []}, "$.city", "expected string, got boolean True"),
    (Point, {"x": 1}, "$.y", "missing required field of Point"),
    (Point, {"x": 1, "y": "2"}, "$.y", "expected integer"),
    (Point, {"x": 1, "y": True}, "$.y", "expected integer, got boolean"),  # bool is no integer here
    (Weather, {"location": "T", "days": 11}, "$.days", "less than or equal to 10"),
    (Trip, {"stops": [{"location": "A"}, {}]}, "$.stops[1].location", "Field required"),
    (dict[str, int], {"a": "x"}, "$.a", "expected integer"),
    (list[int], {"a": 1}, "$", "expected an array"),
    (tuple[int, int], [1], "$", "expected an array of 2 items"),
])
def test_errors_name_the_field_path(tp: Any, args: Any, path: str, words: str) -> None:
    text = json.dumps(args)
    with pytest.raises(ToolArgumentsError) as info:
        call(text, name="order").parse_args_as(tp)
    err = info.value
    assert err.arguments == text
    assert err.reason.startswith(f"{path}: ") and words in err.reason, err.reason
    assert "'order'" in str(err) and path in str(err)


def test_invalid_json_is_a_tool_arguments_error() -> None:
    with pytest.raises(ToolArgumentsError) as info:
        call('{"city": "Oslo", ').parse_args_as(Order)
    assert info.value.arguments == '{"city": "Oslo", ' and "not valid JSON" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_conversion_error_attributes_and_unsupported_type() -> None:
    with pytest.raises(ConversionError) as info:
        convert({"a": [1, "b"]}, dict[str, list[int]])
    assert info.value.path == "$.a[1]" and info.value.problem.startswith("expected integer")
    with pytest.raises(TypeError, match="cannot convert JSON to bytes"):
        convert("x", bytes)


def test_union_reports_every_option() -> None:
    with pytest.raises(ConversionError) as info:
        convert([1], Union[int, str])
    assert "int | str" in info.value.problem and "expected integer" in info.value.problem


# -- result(): what goes back to the model ------------------------------------------------------


def test_result_serialisation() -> None:
    tc = call({})
    assert tc.result("plain text") == {"role": "tool", "tool_call_id": "call-1", "content": "plain text"}
    assert tc.result({"t": "25°C"})["content"] == '{"t": "25°C"}'  # non-ASCII kept
    assert json.loads(tc.result(Item("a", 2))["content"]) == {"name": "a", "qty": 2}
    assert json.loads(tc.result(Weather(location="x"))["content"]) == {"location": "x", "days": 1,
                                                                      "unit": "celsius"}
    assert tc.result([1, None])["content"] == "[1, null]"
