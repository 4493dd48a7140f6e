"""HTTP/1.1 chunked transfer coding, sans-I/O: raw body bytes in, payload bytes out.

Why our own: vLLM (uvicorn) sends every streamed event as its own HTTP chunk, and
``http.client`` hands a chunked body back one chunk per ``read1`` call, each through a
handful of Python methods (size line, data, CRLF). Decoding the framing of a whole socket
read here instead, with ``find`` and slices, lets the sync transport pass one bulk piece
per read to the SSE decoder; measured on ``../shared/bench`` workload c (one stream of
2000 chunks), see benchmarks/results-2026-12-01.md.

The decoder follows RFC 9112 section 7.1: ``size[;ext]CRLF data CRLF`` ... ``0CRLF``,
optional trailer lines, ``CRLF``. Chunk extensions and trailers are read and ignored.
Malformed framing raises :class:`ChunkedError`; a body that ends early is reported by
the caller (``done`` is still False).
"""

from __future__ import annotations

__all__ = ["ChunkedDecoder", "ChunkedError"]

_MAX_LINE = 4096  # a size line or trailer line longer than this is malformed
_HEX = frozenset(b"0123456789abcdefABCDEF")

# States: how the bytes at the read position are to be read.
_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class ChunkedError(ValueError):
    """The body does not follow the chunked transfer coding."""


class ChunkedDecoder:
    """Feed raw body bytes as they arrive; get the payload bytes they complete.

    ``done`` turns True after the last chunk and its trailer section; ``extra`` holds any
    bytes received after that (a well-behaved server sends none before the next request).
    """

    __slots__ = ("_buf", "_left", "_state", "extra")

    def __init__(self) -> None:
        self._buf = b""
        self._left = 0
        self._state = _SIZE
        self.extra = b""

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes) -> bytes:
        """The payload bytes that ``data`` (the next raw bytes) completes, joined."""
        if self._buf:
            data = self._buf + data
            self._buf = b""
        out: list[bytes] = []
        pos = 0
        end = len(data)
        state = self._state
        while pos < end:
            if state == _DATA:
                take = self._left
                if take >= end - pos:  # the read ends inside this chunk's data
                    out.append(data[pos:] if pos else data)
                    self._left = take - (end - pos)
                    pos = end
                    if self._left == 0:
                        state = _DATA_END
                    break
                out.append(data[pos : pos + take])
                pos += take
                state = _DATA_END
            elif state == _DATA_END:
                if end - pos < 2:
                    break
                if data[pos : pos + 2] != b"\r\n":
                    raise ChunkedError("chunk data not followed by CRLF")
                pos += 2
                state = _SIZE
            elif state == _SIZE:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    if end - pos > _MAX_LINE:
                        raise ChunkedError("chunk size line too long")
                    break
                size = _chunk_size(data[pos:eol])
                pos = eol + 2
                if size:
                    self._left = size
                    state = _DATA
                else:
                    state = _TRAILER
            elif state == _TRAILER:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    if end - pos > _MAX_LINE:
                        raise ChunkedError("trailer line too long")
                    break
                pos, blank = eol + 2, eol == pos
                if blank:
                    state = _DONE
            else:  # _DONE
                self.extra += data[pos:]
                pos = end
        self._state = state
        if pos < end:
            self._buf = data[pos:]
        if not out:
            return b""
        return out[0] if len(out) == 1 else b"".join(out)


def _chunk_size(line: bytes) -> int:
    digits = line.split(b";", 1)[0].strip(b" \t")
    if not digits or not _HEX.issuperset(digits) or len(digits) > 16:
        raise ChunkedError(f"bad chunk size line {line[:40]!r}")
    return int(digits, 16)
