"""What both transports ask of a connection: is an idle one still good to send on, and how
to name the limit that expired in an error message.

An idle keep-alive socket that is readable holds an EOF, a reset or stray bytes: none is a
connection to send on, and since nothing was sent yet the request provably never reached
the server, so the pool takes another one silently. One ``poll`` (``select`` where there is
none), as urllib3 does: about 1-2 µs per reuse.
"""

from __future__ import annotations

import select

__all__ = ["limit_note", "peer_closed"]

_poll = getattr(select, "poll", None)


def peer_closed(fd: int) -> bool:
    """Whether the idle socket ``fd`` is readable (or no longer valid)."""
    try:
        if _poll is not None:
            poller = _poll()
            poller.register(fd, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def limit_note(name: str, seconds: float | None) -> str:
    """`` (read timeout 5s)``: which limit expired, for the error message."""
    return f" ({name} timeout {seconds:g}s)" if seconds is not None else ""
