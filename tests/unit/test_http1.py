"""The async transport's sans-I/O HTTP/1.1 framing: any response (chunked, Content-Length,
until-close, 1xx first), split anywhere, gives the same head and body; malformed heads
and smuggled header lines are refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_client._protocol.http1 import HTTPError, ResponseReader, encode_request

HEADER_VALUES = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20)


def feed_split(raw: bytes, cuts: list[int], reader: ResponseReader) -> bytes:
    out = b""
    prev = 0
    for cut in [*sorted(set(cuts)), len(raw)]:
        out += reader.feed(raw[prev:cut])
        prev = cut
    return out


def chunked(pieces: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n" % len(p) + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"


@settings(max_examples=300)
@given(pieces=st.lists(st.binary(min_size=1, max_size=200), max_size=6),
       framing=st.sampled_from(["chunked", "length", "close"]), informational=st.booleans(),
       value=HEADER_VALUES, data=st.data())
def test_any_response_any_split(pieces: list[bytes], framing: str, informational: bool, value: str,
                                data: st.DataObject) -> None:
    body = b"".join(pieces)
    head = b"HTTP/1.1 100 Continue\r\n\r\n" if informational else b""
    head += b"HTTP/1.1 200 OK\r\nX-Thing: " + value.encode() + b"\r\nx-thing:  second \r\n"
    if framing == "chunked":
        raw = head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(pieces)
    elif framing == "length":
        raw = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    else:
        raw = head + b"Connection: close\r\n\r\n" + body
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=12))
    reader = ResponseReader()
    out = feed_split(raw, cuts, reader)
    assert reader.status == 200
    assert reader.headers is not None and reader.headers["x-thing"] == f"{value}, second"
    assert out == body
    if framing == "close":
        assert not reader.done and reader.eof() and not reader.keep_alive
    else:
        assert reader.done and reader.keep_alive


def test_bytes_after_the_body_forbid_reuse() -> None:
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA") == b"ok"
    assert reader.done and not reader.keep_alive


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(status: int) -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 %d X\r\n\r\n" % status)
    assert reader.done and reader.keep_alive and reader.status == status


def test_head_and_tunnel_answers_have_no_body() -> None:
    reader = ResponseReader(no_body=True)
    reader.feed(b"HTTP/1.1 200 Connection established\r\nContent-Length: 10\r\n\r\n")
    assert reader.done


def test_http10_closes_unless_keep_alive() -> None:
    old = ResponseReader()
    old.feed(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    kept = ResponseReader()
    kept.feed(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
    assert not old.keep_alive and kept.keep_alive


@pytest.mark.parametrize("raw", [
    b"HTTX/1.1 200 OK\r\n\r\n",
    b"HTTP/1.1 2x0 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
])
def test_malformed_answers_raise(raw: bytes) -> None:
    with pytest.raises(HTTPError):
        ResponseReader().feed(raw)


def test_a_head_that_never_ends_is_refused() -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(HTTPError, match="too long"):
        for _ in range(100):
            reader.feed(b"x-a: " + b"b" * 1000 + b"\r\n")


def test_request_encoding() -> None:
    raw = encode_request("POST", "/v1/x", "h:8000", {"A": "1"}, b"{}")
    assert raw == b"POST /v1/x HTTP/1.1\r\nHost: h:8000\r\nA: 1\r\nContent-Length: 2\r\n\r\n{}"
    assert encode_request("GET", "/", "h", {}, None) == b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
    assert encode_request("POST", "/", "h", {}, None).endswith(b"Content-Length: 0\r\n\r\n")


@pytest.mark.parametrize("headers", [{"A": "1\r\nEvil: yes"}, {"A\nB": "1"}, {"A": "x\ry"}])
def test_header_smuggling_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        encode_request("GET", "/", "h", headers, None)
