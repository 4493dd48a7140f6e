"""A loopback HTTP server that answers with scripted bytes, for faults the emulator's
high-level fault kinds cannot place exactly: a socket cut in the middle of a chunk, a
keep-alive connection dying after the request was read, a body that stops half-way.

Each accepted connection takes the next script from the queue (the last one repeats).
A script is a list of steps run in order after each request has been read:

* ``bytes``  : sent as they are;
* ``CLOSE``  : close the socket (FIN) and end the connection;
* ``RESET``  : close with RST (SO_LINGER 0);
* ``HOLD``   : stop sending and wait until the client closes (records that it did);
* ``NEXT``   : wait for the next request on this connection, then go on.

The server records every request it read (raw bytes) and every connection it accepted.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

CLOSE = "close"
RESET = "reset"
HOLD = "hold"
NEXT = "next"

Step = bytes | str


def chunked_headers(status: int = 200, content_type: str = "text/event-stream") -> bytes:
    return (f"HTTP/1.1 {status} OK\r\ncontent-type: {content_type}\r\n"
            "transfer-encoding: chunked\r\n\r\n").encode()


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk carrying ``data``."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def json_answer(body: bytes, *, keep_alive: bool = True) -> bytes:
    conn = "keep-alive" if keep_alive else "close"
    return (f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"connection: {conn}\r\n\r\n").encode() + body


LAST_CHUNK = b"0\r\n\r\n"


@dataclass
class ScriptedServer:
    scripts: list[list[Step]]
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    client_closed: threading.Event = field(default_factory=threading.Event)
    closed_by_server: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._workers: list[threading.Thread] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for w in self._workers:
            w.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                index = min(self.connections, len(self.scripts) - 1)
                self.connections += 1
            worker = threading.Thread(target=self._run, args=(conn, self.scripts[index]), daemon=True)
            self._workers.append(worker)
            worker.start()

    def _read_request(self, conn: socket.socket, buf: bytearray) -> bool:
        """Read one whole request (headers and a content-length body) into the log."""
        while b"\r\n\r\n" not in buf:
            data = self._recv(conn)
            if not data:
                return False
            buf += data
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            data = self._recv(conn)
            if not data:
                return False
            rest += data
        self.requests.append(head + b"\r\n\r\n" + rest[:length])
        buf[:] = rest[length:]
        return True

    def _recv(self, conn: socket.socket) -> bytes:
        while not self._stop.is_set():
            try:
                return conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return b""
        return b""

    def _run(self, conn: socket.socket, script: Sequence[Step]) -> None:
        conn.settimeout(0.2)
        buf = bytearray()
        try:
            if not self._read_request(conn, buf):
                return
            for step in script:
                if isinstance(step, bytes):
                    conn.sendall(step)
                elif step == NEXT:
                    if not self._read_request(conn, buf):
                        self.client_closed.set()
                        return
                elif step == HOLD:
                    while not self._stop.is_set():
                        if not self._recv(conn):
                            self.client_closed.set()
                            return
                elif step == RESET:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
                elif step == CLOSE:
                    break
        except OSError:
            pass
        finally:
            conn.close()
            self.closed_by_server.set()
