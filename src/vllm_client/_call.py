"""One call's life, told to observers: it started, each attempt (which server, how it
ended), its first token, and its end, exactly once.

Why an object per call: a call can end through many doors, and every bookkeeping bug
routers are known for (in-flight counts that drift until all traffic lands on one server,
research ``routing-anchors.md`` §9) is a door someone forgot. Here there is one place
per door, and one ``end()`` behind all of them that runs once:

- the retry loop (``_send``) creates the call, tells each attempt's start and (when it
  failed) its end, and ends the call itself when it raises (HTTP error, timeout, retry
  exhaustion, cancellation);
- a non-streamed call ends when its body is read and decoded (or that fails);
- a stream takes the call over from the response and ends it in the ``finally`` of its
  event generator (read to the end, broken, timed out, closed while iterating, task
  cancelled), in ``close()`` (never iterated, or ``with`` left early), and in ``__del__``
  (abandoned and garbage-collected).

The attempt that succeeded stays open until the call ends: for a stream that is when the
stream ends, so an in-flight count covers the whole generation.

Observers (:class:`CallObserver`) are a tuple on the client core. Cost with none: one
slotted object per call and a truth test of an empty tuple per notification; no work per
stream chunk ever (the first token is told once, from the stream metrics' existing
first-token branch). An observer that raises is logged and ignored: telemetry must not
break a request, and ``end()`` runs in finalizers where raising is impossible.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._protocol.requests import RequestSpec

__all__ = ["Call", "CallObserver", "Outcome"]

_log = logging.getLogger("vllm_client")

#: How a call ended (``Call.outcome``): "ok"; "error" (an exception); "cancelled" (the task
#: or the caller's cancellation, ``asyncio.CancelledError`` / ``KeyboardInterrupt``);
#: "closed" (a stream closed by its consumer before its end); "abandoned" (a stream
#: garbage-collected while open).
Outcome = str


class CallObserver(Protocol):
    """What an observer of calls implements (all five; a no-op is fine).

    ``server`` is an index into ``call.base_urls``. Each ``attempt_started`` is followed by
    exactly one ``attempt_ended`` for the same server, before the next attempt starts or,
    for the last attempt, right before ``call_ended``. ``error`` is None on success (a
    stream: read to its end); a stream closed or abandoned early ends with ``error=None``
    and ``call.outcome`` "closed" / "abandoned". Called on the caller's thread (sync) or
    task (async), except the ends of an abandoned stream (``attempt_ended``, ``call_ended``),
    which run in the garbage collector: at any allocation of any code, possibly on a thread
    that holds your own lock right then. Keep them short, never block, and guard shared state
    with a ``threading.RLock`` (a plain Lock can deadlock there) or lock-free updates.
    """

    def call_started(self, call: Call) -> None: ...

    def attempt_started(self, call: Call, server: int) -> None: ...

    def attempt_ended(self, call: Call, server: int, error: BaseException | None) -> None: ...

    def first_token(self, call: Call) -> None: ...

    def call_ended(self, call: Call, error: BaseException | None) -> None: ...


class Call:
    """One API call: every attempt of it, and the stream that may follow.

    Readable by observers: ``spec`` (the request: ``method``, ``path``, ``stream``, ``body``,
    ``headers``), ``request_id``, ``base_urls``, ``server`` (index of the current or last
    attempt's server, -1 before the first), ``attempts``, ``outcome`` and ``error`` once
    ended, and ``local``, a dict for an observer's own per-call state (e.g. a span), keyed
    by the observer. ``headers`` are the request headers every attempt sends: an observer
    may add to them in ``call_started`` (tracing adds ``traceparent``). ``result`` is what
    the call answered, set before a successful ``call_ended``: the decoded JSON of a
    non-streamed call, a stream's assembled answer (a result object with ``.raw``), else None.
    """

    __slots__ = ("_open", "_pending", "attempts", "base_urls", "error", "headers", "local", "observers", "outcome",
                 "request_id", "result", "server", "spec")

    def __init__(self, observers: tuple[CallObserver, ...], spec: RequestSpec, request_id: str,
                 base_urls: tuple[str, ...], headers: dict[str, str] | None = None) -> None:
        self.observers = observers
        self.spec = spec
        self.request_id = request_id
        self.base_urls = base_urls
        self.headers = headers
        self.result: Any = None
        self.server = -1
        self.attempts = 0
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None
        self.local: dict[Any, Any] = {}
        self._open = -1  # the server of the attempt not yet ended
        self._pending = [True]  # popped by the one end() that runs (list.pop is atomic: threads)
        for observer in observers:
            try:
                observer.call_started(self)
            except Exception:
                _failed(observer, "call_started")

    @property
    def server_url(self) -> str | None:
        """Base URL of the current (or last) attempt's server."""
        return self.base_urls[self.server] if self.server >= 0 else None

    @property
    def ended(self) -> bool:
        return not self._pending

    def attempt(self, server: int) -> None:
        """An attempt on ``server`` starts (the request is about to be sent)."""
        self.server = server
        self.attempts += 1
        self._open = server
        for observer in self.observers:
            try:
                observer.attempt_started(self, server)
            except Exception:
                _failed(observer, "attempt_started")

    def attempt_failed(self, error: BaseException) -> None:
        """The current attempt failed; the retry loop decides what follows."""
        server, self._open = self._open, -1
        if server >= 0:
            for observer in self.observers:
                try:
                    observer.attempt_ended(self, server, error)
                except Exception:
                    _failed(observer, "attempt_ended")

    def first_token(self) -> None:
        """A stream's first token arrived (told once per stream by its metrics)."""
        for observer in self.observers:
            try:
                observer.first_token(self)
            except Exception:
                _failed(observer, "first_token")

    def end(self, error: BaseException | None = None, outcome: Outcome | None = None) -> None:
        """End the call (and its open attempt): the first call of this wins, later ones do
        nothing. ``outcome`` defaults from ``error`` ("ok", "error" or "cancelled")."""
        try:
            self._pending.pop()
        except IndexError:
            return
        if outcome is None:
            outcome = "ok" if error is None else "error" if isinstance(error, Exception) else "cancelled"
        self.outcome = outcome
        self.error = error
        server, self._open = self._open, -1
        observers = self.observers
        if server >= 0:
            for observer in observers:
                try:
                    observer.attempt_ended(self, server, error)
                except Exception:
                    _failed(observer, "attempt_ended")
        for observer in observers:
            try:
                observer.call_ended(self, error)
            except Exception:
                _failed(observer, "call_ended")

    def __repr__(self) -> str:
        state = self.outcome or "open"
        return f"<Call {self.spec.method} {self.spec.path} {self.request_id} attempts={self.attempts} {state}>"


def _failed(observer: Any, what: str) -> None:
    _log.exception("call observer %r failed in %s", observer, what)


def end_with(call: Call | None, error: BaseException) -> None:
    """End ``call`` (when there is one) with ``error``, GeneratorExit counting as "closed"."""
    if call is not None:
        if isinstance(error, GeneratorExit):
            call.end(None, "closed")
        else:
            call.end(error)
