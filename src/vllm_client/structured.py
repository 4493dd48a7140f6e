"""Structured outputs: typed answers from ``parse()``, and the ``structured_outputs`` helpers.

vLLM constrains generation with a grammar, so a schema-constrained answer is valid JSON
for the schema *unless it was cut short* (``finish_reason == "length"``) or the server
was asked without a constraint. ``parse()`` therefore turns the text into an instance and
reports both failure kinds as :class:`StructuredOutputError` with the raw text attached,
so a caller can log it or retry with a larger ``max_tokens``.

The helpers build the value of vLLM's ``structured_outputs=`` request field (its native
constraint field; the OpenAI ``response_format`` covers only JSON)::

    from vllm_client import structured
    client.chat.completions.create(messages=msgs, structured_outputs=structured.choice(["yes", "no"]))
    client.chat.completions.create(messages=msgs, structured_outputs=structured.regex(r"\\d{3}-\\d{4}"))
    resp = client.chat.completions.parse(messages=msgs, response_format=City)   # resp.parsed: City
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from ._errors import VllmError
from ._json import dumps_str, loads
from ._protocol.schema import json_schema_for
from ._protocol.types import ChatCompletion, Completion, RequestTiming
from ._typed import ConversionError, convert

__all__ = [
    "ParsedChatCompletion",
    "ParsedCompletion",
    "StructuredOutputError",
    "choice",
    "grammar",
    "json",
    "json_object",
    "parse_json",
    "regex",
    "structural_tag",
]

T = TypeVar("T")

_EXCERPT = 200


class StructuredOutputError(VllmError, ValueError):
    """The answer could not be turned into the requested type: not JSON (often because
    it was cut off at ``max_tokens``), or JSON that does not fit the type.

    ``content`` is the raw answer text, ``reason`` the decoder's or validator's message,
    ``finish_reason`` the choice's (``"length"`` means truncated).
    """

    def __init__(self, message: str, *, content: str | None, reason: str,
                 finish_reason: str | None = None) -> None:
        self.content = content
        self.reason = reason
        self.finish_reason = finish_reason
        super().__init__(message)


# --------------------------------------------------------------------------- parsing


def _type_name(tp: Any) -> str:
    return str(getattr(tp, "__name__", None) or tp)


def parse_json(text: str | None, tp: type[T] | None = None, *, finish_reason: str | None = None) -> Any:
    """Decode an answer's text as JSON and, when ``tp`` is given, build a ``tp`` instance
    (pydantic model, dataclass, TypedDict...). Raises :class:`StructuredOutputError`.
    ``finish_reason`` only sharpens the message: ``"length"`` explains truncated JSON."""
    name = _type_name(tp) if tp is not None else "JSON"
    if text is None or not text.strip():
        hint = " (cut off at max_tokens before any text)" if finish_reason == "length" else ""
        raise StructuredOutputError(f"the answer has no content to parse as {name}{hint}",
                                    content=text, reason="no content", finish_reason=finish_reason)
    try:
        value = loads(text)
    except ValueError as exc:
        excerpt = text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."
        if finish_reason == "length":
            message = (f"the answer was cut off at max_tokens (finish_reason='length') before its JSON was "
                       f"complete; raise max_tokens. Got {excerpt!r}")
        else:
            message = f"the answer is not valid JSON ({exc}): {excerpt!r}"
        raise StructuredOutputError(message, content=text, reason=str(exc), finish_reason=finish_reason) from None
    if tp is None:
        return value
    try:
        return convert(value, tp)
    except ConversionError as exc:  # names the field: "$.population: expected integer, got string"
        reason = str(exc)
        raise StructuredOutputError(f"the answer's JSON does not fit {name}: {reason}",
                                    content=text, reason=reason, finish_reason=finish_reason) from exc


class ParsedChatCompletion(ChatCompletion, Generic[T]):
    """A :class:`ChatCompletion` whose first choice was parsed: ``.parsed`` is the
    instance (``T``; the decoded JSON value when no type was given).

    Only the first choice is parsed eagerly (it is what ``.content`` reads); with
    ``n > 1``, ``parsed_choices`` parses them all on first access.
    """

    __slots__ = ("_all", "_type")

    parsed: T

    def __init__(self, raw: dict[str, Any], timing: RequestTiming | None = None, *,
                 response_type: type[T] | None = None) -> None:
        super().__init__(raw, timing)
        self._type = response_type
        self._all: list[T] | None = None
        first = self._first()
        if first is None:
            raise StructuredOutputError("the answer has no choices to parse", content=None, reason="no choices")
        self.parsed = parse_json(first.message.content, response_type, finish_reason=first.finish_reason)

    @property
    def parsed_choices(self) -> list[T]:
        """Every choice parsed, in order (raises for the first one that does not parse)."""
        if self._all is None:
            self._all = [self.parsed] + [
                parse_json(c.message.content, self._type, finish_reason=c.finish_reason) for c in self.choices[1:]
            ]
        return self._all


class ParsedCompletion(Completion, Generic[T]):
    """A legacy :class:`Completion` whose first choice's text was parsed into ``.parsed``."""

    __slots__ = ("parsed",)

    parsed: T

    def __init__(self, raw: dict[str, Any], timing: RequestTiming | None = None, *,
                 response_type: type[T] | None = None) -> None:
        super().__init__(raw, timing)
        choices = self.choices
        if not choices:
            raise StructuredOutputError("the answer has no choices to parse", content=None, reason="no choices")
        self.parsed = parse_json(choices[0].text, response_type, finish_reason=choices[0].finish_reason)


# --------------------------------------------------------------------------- structured_outputs helpers


def json(schema: Mapping[str, Any] | str | type) -> dict[str, Any]:
    """``structured_outputs`` forcing JSON that matches ``schema``: a JSON-schema dict,
    its JSON text, or a type (pydantic model, dataclass, TypedDict, ``list[int]``...)."""
    if isinstance(schema, str):
        try:
            value = loads(schema)
        except ValueError as exc:
            raise ValueError(f"schema text is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise ValueError("a JSON schema must be a JSON object")
        return {"json": value}
    if isinstance(schema, Mapping):
        return {"json": dict(schema)}
    return {"json": json_schema_for(schema)}


def json_object() -> dict[str, Any]:
    """``structured_outputs`` forcing any JSON object."""
    return {"json_object": True}


def regex(pattern: str, *, check: bool = True) -> dict[str, Any]:
    """``structured_outputs`` forcing text that fully matches ``pattern``.

    The pattern is compiled with Python's ``re`` first so a typo fails here rather than as
    a 400 from the server. vLLM's grammar backends accept nearly the same syntax but not
    exactly: pass ``check=False`` for a pattern Python rejects that your backend takes
    (``\\p{L}`` with guidance, for example).
    """
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("regex pattern must be a non-empty str")
    if check:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"regex {pattern!r} does not compile with Python's re ({exc}); "
                             f"pass check=False to send it to the server anyway") from None
    return {"regex": pattern}


def choice(options: Sequence[str]) -> dict[str, Any]:
    """``structured_outputs`` forcing exactly one of ``options``."""
    if isinstance(options, str):
        raise TypeError("choice() takes a list of strings, not one string")
    values = list(options)
    if not values:
        raise ValueError("choice() needs at least one option")
    bad = [v for v in values if not isinstance(v, str)]
    if bad:
        raise TypeError(f"choice() options must be str, got {bad[0]!r}")
    return {"choice": values}


def grammar(ebnf: str) -> dict[str, Any]:
    """``structured_outputs`` forcing text in a context-free grammar (EBNF / GBNF as the
    server's backend reads it, e.g. xgrammar's ``root ::= ...``). Not checked locally:
    the dialects differ by backend."""
    if not isinstance(ebnf, str) or not ebnf.strip():
        raise ValueError("grammar must be a non-empty str")
    return {"grammar": ebnf}


def structural_tag(structures: Sequence[Mapping[str, Any]], triggers: Sequence[str]) -> dict[str, Any]:
    """``structured_outputs`` letting free text through until a trigger, then forcing a
    tagged JSON region: each structure is ``{"begin": "<fn=add>", "schema": ..., "end": "</fn>"}``
    (``schema`` a dict or a type) and every ``begin`` must start with one of ``triggers``.
    Built in the ``{"type": "structural_tag", "structures", "triggers"}`` form vLLM parses."""
    if isinstance(triggers, str) or not triggers:
        raise ValueError("structural_tag() needs a list of trigger strings")
    items = []
    for i, s in enumerate(structures):
        begin, end, schema = s.get("begin"), s.get("end"), s.get("schema")
        if not isinstance(begin, str) or not isinstance(end, str) or schema is None:
            raise ValueError(f"structures[{i}] needs 'begin' and 'end' strings and a 'schema'")
        if not any(begin.startswith(t) for t in triggers):
            raise ValueError(f"structures[{i}] begin {begin!r} does not start with any trigger {list(triggers)!r}")
        body = dict(schema) if isinstance(schema, Mapping) else json_schema_for(schema)
        items.append({"begin": begin, "schema": body, "end": end})
    if not items:
        raise ValueError("structural_tag() needs at least one structure")
    spec = {"type": "structural_tag", "structures": items, "triggers": list(triggers)}
    return {"structural_tag": dumps_str(spec)}
