"""A passive circuit breaker per server, written as data (h11's ``_state.py`` shape): a
table of (state, event) -> next state and one function that applies it. Pure: the clock is
passed in.

States: ``closed`` (traffic flows), ``open`` (ejected until ``reopen_at``), ``half_open``
(cooldown over: the next request is the one probe), ``probing`` (the probe is in flight;
nothing else is sent; reported as "half_open").

Events: ``failure`` (a transport failure or a 5xx that is not load shedding),
``success`` (any answer that shows a working server, 4xx included), ``trip`` (the
``threshold``-th consecutive failure), ``cooldown`` (the open period ended), ``probe``
(the probe is sent), ``abandon`` (the probe ended with no verdict: cancelled, or shed).

Defaults, with their reasons (research ``routing-anchors.md`` §4, §12): 5 consecutive
failures open it (Envoy's ``consecutive_5xx`` default; SGLang's 10 is for a gateway that sees
far more traffic); open for 30 s times the number of ejections in a row, capped at 300 s
(Envoy ``base_ejection_time`` and ``max_ejection_time``), so a server that keeps failing is
tried less and less often; one probe (gRPC / Finagle), a success closes, a failure
reopens with the longer cooldown. The fleet never leaves a client with no server: when
all are open it still sends to the one whose cooldown ends first (``fleet.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TRANSITIONS", "Breaker", "BreakerConfig", "IllegalTransition"]

CLOSED, OPEN, HALF_OPEN, PROBING = "closed", "open", "half_open", "probing"

#: (state, event) -> next state. A pair not listed is an illegal transition.
TRANSITIONS: dict[tuple[str, str], str] = {
    (CLOSED, "success"): CLOSED,
    (CLOSED, "failure"): CLOSED,
    (CLOSED, "trip"): OPEN,
    (OPEN, "cooldown"): HALF_OPEN,
    (OPEN, "success"): CLOSED,  # a request sent before it opened (or by "never none") came back fine
    (OPEN, "failure"): OPEN,
    (HALF_OPEN, "probe"): PROBING,
    (HALF_OPEN, "success"): CLOSED,
    (HALF_OPEN, "failure"): OPEN,
    (PROBING, "success"): CLOSED,
    (PROBING, "failure"): OPEN,
    (PROBING, "abandon"): HALF_OPEN,
}


class IllegalTransition(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    threshold: int = 5
    base_cooldown: float = 30.0
    max_cooldown: float = 300.0

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError(f"breaker threshold must be >= 1, got {self.threshold}")
        if not 0 <= self.base_cooldown <= self.max_cooldown:
            raise ValueError("breaker cooldowns must satisfy 0 <= base_cooldown <= max_cooldown")


class Breaker:
    """One server's breaker. ``state`` is one of the four states above."""

    __slots__ = ("config", "ejections", "failures", "reopen_at", "state")

    def __init__(self, config: BreakerConfig | None = None) -> None:
        self.config = config or BreakerConfig()
        self.state = CLOSED
        self.failures = 0  # consecutive
        self.ejections = 0  # consecutive openings without a close in between
        self.reopen_at = 0.0

    def _apply(self, event: str) -> str:
        try:
            self.state = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise IllegalTransition(f"breaker: no transition from {self.state!r} on {event!r}") from None
        return self.state

    @property
    def public_state(self) -> str:
        return HALF_OPEN if self.state == PROBING else self.state

    def cooldown(self) -> float:
        """The open period after ``ejections`` openings in a row."""
        c = self.config
        return min(c.max_cooldown, c.base_cooldown * max(1, self.ejections))

    def refresh(self, now: float) -> str:
        """Let time pass: an open breaker whose cooldown ended becomes half-open."""
        if self.state == OPEN and now >= self.reopen_at:
            self._apply("cooldown")
        return self.state

    def admits(self, now: float) -> bool:
        """Whether a request may be sent now (closed, or half-open with no probe out)."""
        state = self.refresh(now)
        return state in (CLOSED, HALF_OPEN)

    def sending(self) -> None:
        """A request is sent to this server: in half-open it is the probe."""
        if self.state == HALF_OPEN:
            self._apply("probe")

    def success(self) -> None:
        self.failures = 0
        if self._apply("success") == CLOSED:
            self.ejections = 0

    def failure(self, now: float) -> None:
        self.failures += 1
        if self.state == CLOSED:
            if self.failures < self.config.threshold:
                self._apply("failure")
                return
            self._apply("trip")
        else:
            self._apply("failure")
            if self.state == OPEN and self.reopen_at > now:
                return  # already open: a late failure of an earlier request does not extend it
        self.ejections += 1
        self.reopen_at = now + self.cooldown()

    def abandon(self) -> None:
        """A request ended with no verdict on the server (cancelled, closed, load shed)."""
        if self.state == PROBING:
            self._apply("abandon")
