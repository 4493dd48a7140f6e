"""Tests for the incremental SSE decoder (vllm_client._protocol.sse).

Three layers:

* table tests, one per parsing rule, each checked whole, at every 2-way split
  and byte by byte (the decoder must not care where reads end);
* golden tests over every real vLLM 0.32 event-stream capture, fed whole and
  at the exact socket read boundaries that were recorded;
* hypothesis property tests against a deliberately naive, line-by-line
  transcription of the WHATWG algorithm (``reference_parse``), which shares no
  code with the decoder's fast paths.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from vllm_client._protocol.sse import SSEDecoder, SSEError, SSEEvent

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real-vllm-0.32"
BOM = b"\xef\xbb\xbf"


# -- helpers ------------------------------------------------------------------


def reference_parse(raw: bytes) -> list[SSEEvent]:
    """The WHATWG event-stream algorithm, transcribed literally (no fast paths)."""
    if raw.startswith(BOM):
        raw = raw[3:]
    lines = re.split(rb"\r\n|\r|\n", raw)
    lines.pop()  # the incomplete last line (or b"" after a final line end)
    events: list[SSEEvent] = []
    data = b""
    event_type = ""
    last_id: str | None = None
    retry: int | None = None
    for line in lines:
        if line == b"":
            if data:
                events.append(SSEEvent(data[:-1], event_type or "message", last_id, retry))
            data, event_type, retry = b"", "", None
            continue
        if line.startswith(b":"):
            continue
        if b":" in line:
            name, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
        else:
            name, value = line, b""
        if name == b"data":
            data += value + b"\n"
        elif name == b"event":
            event_type = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\0" not in value:
                last_id = value.decode("utf-8", "replace")
        elif name == b"retry" and value and all(48 <= c <= 57 for c in value):
            retry = int(value)
    return events


def feed_all(chunks: list[bytes], decoder: SSEDecoder | None = None) -> list[SSEEvent]:
    """Every event of ``chunks``; also checks that ``feed_data`` (on a twin decoder) yields
    exactly their ``data`` and ends in the same state, so every test covers both APIs."""
    twin = SSEDecoder(max_event_size=decoder._max) if decoder is not None else SSEDecoder()
    twin._last_id = decoder.last_event_id if decoder is not None else None
    decoder = decoder or SSEDecoder()
    events: list[SSEEvent] = []
    data: list[bytes] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
        data.extend(twin.feed_data(chunk))
    assert data == [event.data for event in events]
    assert (twin.last_event_id, twin.retry, twin.pending_bytes) == (decoder.last_event_id, decoder.retry,
                                                                    decoder.pending_bytes)
    return events + decoder.flush()


def split_at(raw: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(set(cuts)), len(raw)]
    return [raw[a:b] for a, b in itertools.pairwise(bounds)]


def assert_split_invariant(raw: bytes, expected: list[SSEEvent]) -> None:
    """Same events whole, at every single split point, and byte by byte."""
    assert feed_all([raw]) == expected
    for i in range(len(raw) + 1):
        assert feed_all([raw[:i], raw[i:]]) == expected, f"split at {i}: {raw[:i]!r} | {raw[i:]!r}"
    assert feed_all([raw[i : i + 1] for i in range(len(raw))]) == expected


def E(data: bytes, event: str = "message", id: str | None = None, retry: int | None = None) -> SSEEvent:
    return SSEEvent(data, event, id, retry)


# -- table tests ----------------------------------------------------------------

CASES: list[tuple[str, bytes, list[SSEEvent]]] = [
    ("single", b"data: hello\n\n", [E(b"hello")]),
    ("two", b"data: a\n\ndata: b\n\n", [E(b"a"), E(b"b")]),
    ("crlf", b"data: a\r\n\r\ndata: b\r\n\r\n", [E(b"a"), E(b"b")]),
    ("cr", b"data: a\r\rdata: b\r\r", [E(b"a"), E(b"b")]),
    ("mixed line ends", b"data: a\r\ndata: b\rdata: c\n\r\n", [E(b"a\nb\nc")]),
    ("cr then lf is one line end", b"data: a\r\n\n", [E(b"a")]),
    ("lf then cr is two line ends", b"data: a\n\rdata: b\n\n", [E(b"a"), E(b"b")]),
    ("multi-line data", b"data: line1\ndata: line2\ndata: line3\n\n", [E(b"line1\nline2\nline3")]),
    ("empty data line kept", b"data: a\ndata:\ndata: b\n\n", [E(b"a\n\nb")]),
    ("data with empty value dispatches", b"data:\n\n", [E(b"")]),
    ("field without colon", b"data\n\n", [E(b"")]),
    ("field without colon, two lines", b"data\ndata\n\n", [E(b"\n")]),
    ("no space after colon", b"data:x\n\n", [E(b"x")]),
    ("only one leading space stripped", b"data:  x \n\n", [E(b" x ")]),
    ("colon in value", b"data: a: b:c\n\n", [E(b"a: b:c")]),
    ("event type", b"event: update\ndata: x\n\n", [E(b"x", "update")]),
    ("event after data", b"data: x\nevent: update\n\n", [E(b"x", "update")]),
    ("empty event type means message", b"event:\ndata: x\n\n", [E(b"x")]),
    ("event type resets per event", b"event: a\ndata: 1\n\ndata: 2\n\n", [E(b"1", "a"), E(b"2")]),
    ("event type reset by an empty event", b"event: a\n\ndata: 2\n\n", [E(b"2")]),
    ("last event type wins", b"event: a\nevent: b\ndata: x\n\n", [E(b"x", "b")]),
    ("id", b"id: 7\ndata: x\n\n", [E(b"x", id="7")]),
    ("id persists", b"id: 7\ndata: x\n\ndata: y\n\n", [E(b"x", id="7"), E(b"y", id="7")]),
    ("id from dataless event persists", b"id: 7\n\ndata: y\n\n", [E(b"y", id="7")]),
    ("id replaced", b"id: 1\ndata: x\n\nid: 2\ndata: y\n\n", [E(b"x", id="1"), E(b"y", id="2")]),
    ("empty id resets", b"id: 1\ndata: x\n\nid\ndata: y\n\n", [E(b"x", id="1"), E(b"y", id="")]),
    ("id with NUL ignored", b"id: 1\ndata: x\n\nid: 2\x003\ndata: y\n\n", [E(b"x", id="1"), E(b"y", id="1")]),
    ("id unicode", "id: é✓\ndata: x\n\n".encode(), [E(b"x", id="é✓")]),
    ("retry", b"retry: 3000\ndata: x\n\n", [E(b"x", retry=3000)]),
    ("retry not persisted in events", b"retry: 3000\ndata: x\n\ndata: y\n\n", [E(b"x", retry=3000), E(b"y")]),
    ("retry with non-digits ignored", b"retry: 30s\ndata: x\n\n", [E(b"x")]),
    ("retry negative ignored", b"retry: -1\ndata: x\n\n", [E(b"x")]),
    ("retry empty ignored", b"retry:\ndata: x\n\n", [E(b"x")]),
    ("retry non-ascii digits ignored", "retry: \uff13\ndata: x\n\n".encode(), [E(b"x")]),
    ("comment", b": keep-alive\n\ndata: x\n\n", [E(b"x")]),
    ("comment inside event", b"data: a\n: note\ndata: b\n\n", [E(b"a\nb")]),
    ("colon-only comment", b":\ndata: x\n\n", [E(b"x")]),
    ("comment-only stream", b": ping\n\n: ping\n\n", []),
    ("unknown field ignored", b"foo: bar\ndata: x\nDATA: y\n\n", [E(b"x")]),
    ("field names are case-sensitive", b"Data: x\nEvent: e\n\n", []),
    ("field name with space is unknown", b"data : x\n\n", []),
    ("no data, no event", b"event: e\nid: 1\n\n", []),
    ("blank lines only", b"\n\n\n\r\n\r\r", []),
    ("leading blank lines", b"\n\n\ndata: x\n\n", [E(b"x")]),
    ("odd blank-line runs", b"data: a\n\n\ndata: b\n\n\n\n\ndata: c\n\n", [E(b"a"), E(b"b"), E(b"c")]),
    ("incomplete event discarded", b"data: a\n\ndata: b\n", [E(b"a")]),
    ("incomplete line discarded", b"data: a\n\ndata: b", [E(b"a")]),
    ("bom stripped", BOM + b"data: x\n\n", [E(b"x")]),
    ("only the first bom stripped", BOM + BOM + b"data: x\n\n", []),
    ("bom later is data", b"data: x\n\n" + b"data: " + BOM + b"y\n\n", [E(b"x"), E(BOM + b"y")]),
    ("utf-8 kept as bytes", 'data: {"c":"héllo ✓ 🙂"}\n\n'.encode(), [E('{"c":"héllo ✓ 🙂"}'.encode())]),
    ("invalid utf-8 in data kept raw", b"data: \xff\xfe\n\n", [E(b"\xff\xfe")]),
    ("invalid utf-8 in event replaced", b"event: \xff\ndata: x\n\n", [E(b"x", "\ufffd")]),
    ("nul in data kept", b"data: a\x00b\n\n", [E(b"a\x00b")]),
    ("done", b"data: {}\n\ndata: [DONE]\n\n", [E(b"{}"), E(b"[DONE]")]),
    (
        "responses api shape",
        b"event: response.created\ndata: {}\n\nevent: response.completed\ndata: {}\n\n",
        [E(b"{}", "response.created"), E(b"{}", "response.completed")],
    ),
    (
        "fast path carries earlier id",
        b"id: 42\ndata: a\n\ndata: b\n\ndata: c\n\n",
        [E(b"a", id="42"), E(b"b", id="42"), E(b"c", id="42")],
    ),
    (
        "fast path events around slow ones",
        b"data: 1\n\n: c\ndata: 2\n\ndata: 3\n\nevent: e\ndata: 4\n\ndata: 5\n\n",
        [E(b"1"), E(b"2"), E(b"3"), E(b"4", "e"), E(b"5")],
    ),
]


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rules(raw: bytes, expected: list[SSEEvent]) -> None:
    assert reference_parse(raw) == expected  # the oracle agrees with the table...
    assert_split_invariant(raw, expected)  # ...and so does the decoder, however it is fed


def test_cr_at_end_of_feed_then_lf() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\r") == []
    assert d.feed(b"\n") == []  # the LF completes the CRLF, not a blank line
    assert d.feed(b"\r") == [E(b"a")]
    assert d.feed(b"\n") == []
    assert d.feed(b"data: b\r\n\r\n") == [E(b"b")]


def test_cr_at_end_of_feed_then_empty_feeds() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\r") == []
    assert d.feed(b"") == []
    assert d.feed(b"\n") == []
    assert d.feed(b"\n") == [E(b"a")]


def test_bom_split_across_feeds() -> None:
    for i in range(4):
        d = SSEDecoder()
        out = d.feed(BOM[:i]) + d.feed(BOM[i:]) + d.feed(b"data: x\n\n")
        assert out == [E(b"x")]
    d = SSEDecoder()
    assert d.feed(BOM[:2]) == []
    assert d.has_pending
    assert d.feed(b"data: x\n\n") == []  # not a BOM after all: field b"\xef\xbbdata" is unknown
    d = SSEDecoder()
    assert d.feed(b"\xef") + d.feed(b"data: x\n\n") == []  # b"\xefdata" is an unknown field


def test_bom_only_at_stream_start() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\n\n") == [E(b"a")]
    assert d.feed(BOM + b"data: b\n\n") == []  # field name b"\xef\xbb\xbfdata": unknown


def test_event_is_namedtuple() -> None:
    (ev,) = SSEDecoder().feed(b"data: x\n\n")
    assert type(ev) is SSEEvent
    assert ev.data == b"x" and ev.event == "message" and ev.id is None and ev.retry is None
    assert ev._asdict() == {"data": b"x", "event": "message", "id": None, "retry": None}
    assert SSEEvent(b"x") == ev


def test_decoder_properties() -> None:
    d = SSEDecoder()
    assert d.last_event_id is None and d.retry is None
    d.feed(b"id: abc\nretry: 1500\n\n")
    assert d.last_event_id == "abc"
    assert d.retry == 1500


def test_pending_and_flush() -> None:
    d = SSEDecoder()
    assert not d.has_pending and d.pending_bytes == 0
    assert d.feed(b"data: a\n\ndata: b") == [E(b"a")]
    assert d.has_pending and d.pending_bytes == len(b"data: b")
    assert d.feed(b"c\n") == []
    assert d.pending_bytes == len(b"data: bc\n")
    assert d.flush() == []  # per spec: the unterminated event is dropped
    assert not d.has_pending


@pytest.mark.parametrize(
    "raw",
    [b"", b"data: a\n\n", b"data: a\n\n\n", b"data: a\r\n\r\n", b"data: a\r\r", b": c\n\n", b"\n", b"\r\n"],
)
def test_clean_end_has_nothing_pending(raw: bytes) -> None:
    for i in range(len(raw) + 1):
        d = SSEDecoder()
        d.feed(raw[:i])
        d.feed(raw[i:])
        assert not d.has_pending, (raw, i)
        assert d.pending_bytes == 0


@pytest.mark.parametrize("raw", [b"data: a", b"data: a\n", b"data: a\r", b"data: a\r\n", b": c\n", b"event: x\n"])
def test_truncated_end_is_pending(raw: bytes) -> None:
    d = SSEDecoder()
    d.feed(raw)
    assert d.has_pending


def test_flush_keeps_last_event_id_and_resets_buffers() -> None:
    d = SSEDecoder()
    d.feed(b"id: 5\ndata: a\n\ndata: partial")
    d.flush()
    assert d.last_event_id == "5"
    assert d.feed(BOM + b"data: b\n\n") == [E(b"b", id="5")]  # a reconnection: BOM allowed again


# -- size limit -------------------------------------------------------------------


def test_long_line_without_newline_raises() -> None:
    d = SSEDecoder(max_event_size=1000)
    d.feed(b"data: ")
    with pytest.raises(SSEError, match="max_event_size"):
        for _ in range(1000):
            d.feed(b"x" * 10)
    assert not d.has_pending  # the buffer was dropped


def test_event_with_many_lines_raises() -> None:
    d = SSEDecoder(max_event_size=1000)
    with pytest.raises(SSEError):
        for _ in range(1000):
            d.feed(b"data: 0123456789\n")


def test_oversized_event_in_one_read_raises() -> None:
    big = b"data: " + b"x" * 1000
    for raw in [
        big + b"\n\n",  # one complete event
        b"data: a\n\n" + big + b"\n\ndata: b\n\n",  # among others
        big,  # incomplete, no line end yet
        b"data: a\n\n" + big + b"\n",  # incomplete, after a complete event
    ]:
        with pytest.raises(SSEError):
            SSEDecoder(max_event_size=1000).feed(raw)


def test_sse_error_is_value_error() -> None:
    assert issubclass(SSEError, ValueError)
    with pytest.raises(ValueError):
        SSEDecoder(max_event_size=0)


@pytest.mark.parametrize("shape", ["single", "multi", "crlf", "stray-blank"])
def test_size_limit_is_exact_and_independent_of_read_sizes(shape: str) -> None:
    limit = 64

    def block(size: int) -> bytes:
        b = b"data: a\ndata: " + b"x" * (size - 14) if shape == "multi" else b"data: " + b"x" * (size - 6)
        assert len(b) == size
        return b

    for size, ok in [(limit - 1, True), (limit, True), (limit + 1, False)]:
        b = block(size)
        if shape == "crlf":
            raw = b"data: a\r\n\r\n" + b.replace(b"\n", b"\r\n") + b"\r\n\r\ndata: z\r\n\r\n"
        elif shape == "stray-blank":
            raw = b"data: a\n\n\n" + b + b"\n\n\ndata: z\n\n"
        else:
            raw = b"data: a\n\n" + b + b"\n\ndata: z\n\n"
        expected = [E(b"a"), E(b"\n".join(line[6:] for line in b.split(b"\n"))), E(b"z")]
        for i in range(len(raw) + 1):
            for j in range(i, len(raw) + 1, 7):
                pieces = [raw[:i], raw[i:j], raw[j:]]
                if ok:
                    assert feed_all(pieces, SSEDecoder(max_event_size=limit)) == expected
                else:
                    with pytest.raises(SSEError):
                        feed_all(pieces, SSEDecoder(max_event_size=limit))


# -- golden: real vLLM 0.32 captures ------------------------------------------------


def _stream_fixtures() -> list[Path]:
    found = []
    for path in sorted(FIXTURES.glob("*.json")):
        response = json.loads(path.read_text()).get("response")
        if not isinstance(response, dict) or "body" not in response:
            continue
        ctype = next((v for k, v in response.get("headers", []) if k.lower() == "content-type"), "")
        if ctype.startswith("text/event-stream"):
            found.append(path)
    return found


STREAM_FIXTURES = _stream_fixtures()


def test_fixture_inventory() -> None:
    # 36 captured event streams (chat, completions, responses, tool calls, reasoning);
    # chat_stream_client_disconnect.json has raw_wire instead of body (tested below).
    assert len(STREAM_FIXTURES) >= 30


@pytest.mark.parametrize("path", STREAM_FIXTURES, ids=[p.stem for p in STREAM_FIXTURES])
def test_golden_fixture(path: Path) -> None:
    fixture = json.loads(path.read_text())
    response = fixture["response"]
    raw = response["body"].encode()
    assert len(raw) == response["body_bytes"]
    sizes = response["chunk_sizes"]
    assert sum(sizes) == len(raw)
    reads, pos = [], 0
    for size in sizes:
        reads.append(raw[pos : pos + size])
        pos += size

    whole = feed_all([raw])
    assert feed_all(reads) == whole
    assert whole == reference_parse(raw)

    body = response["body"]
    data_lines = [line[6:].encode() for line in body.split("\n") if line.startswith("data: ")]
    event_lines = [line[7:] for line in body.split("\n") if line.startswith("event: ")]
    assert [e.data for e in whole] == data_lines
    assert all(e.id is None and e.retry is None for e in whole)

    if event_lines:
        # Responses API and /v1/messages: "event: <type>" + "data: <json>", no [DONE] sentinel.
        assert [e.event for e in whole] == event_lines
        for e in whole:
            assert orjson.loads(e.data)["type"] == e.event
        assert whole[-1].event in ("response.completed", "message_stop")
    else:
        # Chat / completions: one "data: " line per event, then [DONE].
        assert all(e.event == "message" for e in whole)
        assert whole[-1].data == b"[DONE]"
        for e in whole[:-1]:
            orjson.loads(e.data)

    d = SSEDecoder()
    for r in reads:
        d.feed(r)
    assert not d.has_pending


def test_golden_truncated_stream_client_disconnect() -> None:
    """The capture where the client hung up mid-stream: de-chunk its raw wire bytes."""
    response = json.loads((FIXTURES / "chat_stream_client_disconnect.json").read_text())["response"]
    wire = response["body_after_headers_chunked"].encode()
    body, pos = b"", 0
    while pos < len(wire):
        nl = wire.find(b"\r\n", pos)
        if nl < 0:
            break
        size = int(wire[pos:nl], 16)
        body += wire[nl + 2 : nl + 2 + size]
        pos = nl + 2 + size + 2
    d = SSEDecoder()
    events = d.feed(body)
    assert len(events) >= 3
    for e in events:
        assert orjson.loads(e.data)["object"] == "chat.completion.chunk"
    assert events[-1].data != b"[DONE]"


# -- property tests -----------------------------------------------------------------

LINE_ENDS = st.sampled_from([b"\n", b"\r\n", b"\r"])
# Text without line-end characters (those would start a new line); includes non-ASCII.
LINE_TEXT = st.text(
    st.characters(codec="utf-8", exclude_characters="\r\n"),
    max_size=20,
)
FIELD_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=8)


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[SSEEvent]]:
    """A random event stream and the events it must decode to."""
    out = bytearray()
    if draw(st.booleans()):
        out += BOM
    events: list[SSEEvent] = []
    last_id: str | None = None
    for _ in range(draw(st.integers(0, 6))):
        lines: list[bytes] = []
        data_lines = draw(st.lists(LINE_TEXT, max_size=4))
        event = draw(st.none() | FIELD_TEXT)
        id_ = draw(st.none() | FIELD_TEXT)
        retry = draw(st.none() | st.integers(0, 10**6))
        lines += [b"data: " + t.encode() if draw(st.booleans()) else b"data:" + t.encode() for t in data_lines]
        if event is not None:
            lines.insert(draw(st.integers(0, len(lines))), b"event: " + event.encode())
        if id_ is not None:
            lines.insert(draw(st.integers(0, len(lines))), b"id: " + id_.encode())
            last_id = id_
        if retry is not None:
            lines.insert(draw(st.integers(0, len(lines))), b"retry: %d" % retry)
        for _ in range(draw(st.integers(0, 2))):
            lines.insert(draw(st.integers(0, len(lines))), b":" + draw(LINE_TEXT).encode())
        for line in lines:
            out += line + draw(LINE_ENDS)
        # The blank line that dispatches.  After a CR it must not be a bare LF:
        # CR + LF would merge into one CRLF line end.
        out += draw(st.sampled_from([b"\r", b"\r\n"])) if out.endswith(b"\r") else draw(LINE_ENDS)
        if data_lines:
            # b"data:" + " x" keeps the space after the colon's one stripped space
            values = []
            for line in lines:
                if line.startswith(b"data:"):
                    value = line[5:]
                    values.append(value[1:] if value.startswith(b" ") else value)
            events.append(SSEEvent(b"\n".join(values), event or "message", last_id, retry))
    if draw(st.booleans()):
        out += b"data: truncated"  # an incomplete event at the end is dropped
    return bytes(out), events


@given(stream=streams(), data=st.data())
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@example(stream=(b"data: a\r\n\r\n", [E(b"a")]), data=None)
def test_property_chunking_invariant(stream: tuple[bytes, list[SSEEvent]], data: st.DataObject | None) -> None:
    raw, expected = stream
    whole = feed_all([raw])
    assert whole == expected
    assert whole == reference_parse(raw)
    if data is None:
        assert_split_invariant(raw, expected)
        return
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=12))
    assert feed_all(split_at(raw, cuts)) == expected


@given(raw=st.binary(max_size=200), cuts=st.lists(st.integers(0, 200), max_size=8))
@settings(max_examples=400)
def test_property_arbitrary_bytes_match_reference(raw: bytes, cuts: list[int]) -> None:
    """Any byte soup decodes like the reference, however it is split."""
    assert feed_all(split_at(raw, [c for c in cuts if c <= len(raw)])) == reference_parse(raw)


SOUP = st.lists(
    st.sampled_from([b"data: ", b"data:", b"data", b"event: e", b"id: 1", b"id: 2", b"retry: 5", b": c",
                     b"\n", b"\r", b"\r\n", b"x", b"\xc3\xa9", b"\x00", BOM]),
    max_size=40,
).map(b"".join)  # fmt: skip


@given(raw=SOUP, cuts=st.lists(st.integers(0, 300), max_size=10))
@settings(max_examples=1000)
def test_property_token_soup_matches_reference(raw: bytes, cuts: list[int]) -> None:
    """Streams built from SSE tokens hit the rules (and the fast-path guards) far more often."""
    assert feed_all(split_at(raw, [c for c in cuts if c <= len(raw)])) == reference_parse(raw)
