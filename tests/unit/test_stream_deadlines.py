"""StreamDeadlines.remaining (asked before every read: arithmetic only) against the worded
limits that expired() uses: the same nearest limit, whatever is set. Pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vllm_client._config import Timeout
from vllm_client._protocol.deadlines import StreamDeadlines

limit = st.one_of(st.none(), st.floats(0.01, 1000.0))


@given(limit, limit, limit, st.floats(0.0, 100.0), st.floats(0.0, 100.0), st.booleans(),
       st.one_of(st.none(), st.floats(0.0, 50.0)), st.floats(0.0, 2000.0))
def test_remaining_is_the_nearest_worded_limit(first_token: float | None, idle: float | None, total: float | None,
                                               started: float, since: float, got_token: bool,
                                               origin: float | None, now: float) -> None:
    d = StreamDeadlines(Timeout(first_token=first_token, idle=idle, total=total), started, started + since,
                        got_token=got_token, origin=origin)
    limits = d._limits()
    rem = d.remaining(now)
    if not limits:
        assert rem is None
    else:
        assert rem == min(at for at, _ in limits) - now
        assert (d.expired(now) is not None) == (rem <= 0)


def test_idle_counts_from_the_last_event_once_a_token_came() -> None:
    d = StreamDeadlines.start(Timeout(first_token=5.0, idle=1.0, total=100.0), 10.0)
    assert d.remaining(10.0) == 5.0  # before the first token: first_token binds
    d.mark_event(12.0, token=True)
    assert d.remaining(12.5) == 0.5  # then idle from the last event
    assert d.expired(13.5) == "idle timeout (1s between events)"
