"""A ``read1`` for a chunked ``http.client`` response that de-chunks whole socket reads.

``HTTPResponse.read1`` on a chunked body returns at most one HTTP chunk per call, and
vLLM sends one chunk per streamed event, so a stream costs several Python calls per
event before our decoding starts. This reads the raw bytes the connection has (one
``read1`` of the socket's buffered reader) and removes the framing with
:class:`~.._protocol.chunked.ChunkedDecoder`, so one call returns every event of the
read. At the end it finishes the response exactly as ``http.client`` does
(``_close_conn``), so the connection goes back to the pool as before.
"""

from __future__ import annotations

import http.client

from .._protocol.chunked import ChunkedDecoder, ChunkedError

__all__ = ["ChunkedReader"]


class ChunkedReader:
    """``read1(n)`` over the raw stream of a chunked response not read from yet."""

    __slots__ = ("_decoder", "_fp", "_resp")

    def __init__(self, resp: http.client.HTTPResponse) -> None:
        self._resp = resp
        self._fp = resp.fp
        self._decoder = ChunkedDecoder()

    def read1(self, n: int = 65536) -> bytes:
        """Payload bytes of the next socket read(s); b"" once the body is complete.
        Raises ``http.client.IncompleteRead`` if the connection ends mid-body and
        ``http.client.HTTPException`` for malformed framing."""
        decoder = self._decoder
        fp = self._fp
        while not decoder.done and fp is not None:
            raw = fp.read1(n)
            if not raw:
                raise http.client.IncompleteRead(b"")
            try:
                data = decoder.feed(raw)
            except ChunkedError as exc:
                raise http.client.HTTPException(f"malformed chunked body: {exc}") from None
            if decoder.done:
                if decoder.extra:
                    self._resp.will_close = True  # bytes after the body: do not reuse the connection
                self._resp._close_conn()  # as http.client ends a body
                self._fp = None
            if data:
                return data
        return b""
