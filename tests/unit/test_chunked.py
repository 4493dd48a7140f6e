"""The chunked transfer-coding decoder the sync transport uses for streams: any framing
(sizes, extensions, trailers) and any split of the raw bytes give back the payload."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_client._protocol.chunked import ChunkedDecoder, ChunkedError


def frame(pieces: list[bytes], *, ext: bool = False, upper: bool = False, trailers: tuple[bytes, ...] = ()) -> bytes:
    out = b""
    for piece in pieces:
        size = b"%X" % len(piece) if upper else b"%x" % len(piece)
        out += size + (b";name=value" if ext else b"") + b"\r\n" + piece + b"\r\n"
    return out + b"0\r\n" + b"".join(t + b"\r\n" for t in trailers) + b"\r\n"


def decode(raw: bytes, cuts: list[int]) -> tuple[bytes, ChunkedDecoder]:
    dec = ChunkedDecoder()
    out = b""
    prev = 0
    for cut in [*sorted(set(cuts)), len(raw)]:
        out += dec.feed(raw[prev:cut])
        prev = cut
    return out, dec


@settings(max_examples=400)
@given(pieces=st.lists(st.binary(min_size=1, max_size=300), max_size=8), ext=st.booleans(), upper=st.booleans(),
       trailers=st.lists(st.sampled_from([b"x-a: 1", b"x-b: two"]), max_size=2), extra=st.binary(max_size=5),
       data=st.data())
def test_any_framing_and_any_split(pieces: list[bytes], ext: bool, upper: bool, trailers: list[bytes],
                                   extra: bytes, data: st.DataObject) -> None:
    raw = frame(pieces, ext=ext, upper=upper, trailers=tuple(trailers)) + extra
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=20))
    out, dec = decode(raw, cuts)
    assert out == b"".join(pieces)
    assert dec.done
    assert dec.extra == extra


@settings(max_examples=200)
@given(pieces=st.lists(st.binary(min_size=1, max_size=50), min_size=1, max_size=5), data=st.data())
def test_a_truncated_body_is_not_done(pieces: list[bytes], data: st.DataObject) -> None:
    raw = frame(pieces)
    cut = data.draw(st.integers(0, len(raw) - 1))
    out, dec = decode(raw[:cut], [])
    assert not dec.done
    assert b"".join(pieces).startswith(out)


def test_one_read_holding_many_chunks_returns_them_joined() -> None:
    dec = ChunkedDecoder()
    assert dec.feed(frame([b"data: a\n\n", b"data: b\n\n"])[:-2]) == b"data: a\n\ndata: b\n\n"
    assert not dec.done  # the blank line after the last chunk has not arrived
    assert dec.feed(b"\r\n") == b""
    assert dec.done


@pytest.mark.parametrize("raw", [
    b"zz\r\nabc\r\n", b"0x3\r\nabc\r\n", b"+3\r\nabc\r\n", b"-3\r\nabc\r\n", b"1_0\r\n", b"\r\nabc",
    b"3\r\nabcX\r\n", b"1" * 5000, b"11111111111111111\r\n",
])
def test_malformed_framing_raises(raw: bytes) -> None:
    with pytest.raises(ChunkedError):
        ChunkedDecoder().feed(raw)
