"""RetryPolicy.delay and retry_after_seconds, with pinned randomness and clock."""

from __future__ import annotations

import email.utils
import math
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_client import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ResponseParseError,
    StreamError,
    StreamTimeoutError,
    ToolArgumentsError,
)
from vllm_client._errors import error_from_response
from vllm_client._retry import RetryPolicy, retry_after_seconds

NOW = 1_800_000_000.0


def http_error(status: int, headers: dict[str, str] | None = None) -> APIError:
    return error_from_response(status, headers or {}, b"")


def top() -> float:
    """rand() pinned to its upper end (random.random() < 1.0; 1.0 makes the bounds exact)."""
    return 1.0


def bottom() -> float:
    return 0.0


def half() -> float:
    return 0.5


# -- attempt counting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_retries", "retried_attempts"),
    [(0, []), (1, [1]), (2, [1, 2]), (5, [1, 2, 3, 4, 5])],
)
def test_attempt_counting(max_retries: int, retried_attempts: list[int]) -> None:
    policy = RetryPolicy(max_retries=max_retries)
    err = APIConnectionError("refused")
    got = [a for a in range(1, max_retries + 3) if policy.delay(a, err, rand=half) is not None]
    assert got == retried_attempts


def test_default_policy() -> None:
    policy = RetryPolicy()
    assert (policy.max_retries, policy.base_delay, policy.max_delay, policy.max_retry_after) == (2, 0.5, 8.0, 60.0)


# -- exponential backoff and jitter ------------------------------------------------------------------


def test_exponential_growth_at_top_of_jitter() -> None:
    policy = RetryPolicy(max_retries=10)
    err = APIConnectionError("x")
    delays = [policy.delay(a, err, rand=top) for a in range(1, 8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_exponential_growth_at_bottom_of_jitter() -> None:
    policy = RetryPolicy(max_retries=10)
    err = APIConnectionError("x")
    delays = [policy.delay(a, err, rand=bottom) for a in range(1, 8)]
    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_cap_at_max_delay() -> None:
    policy = RetryPolicy(max_retries=100)
    err = http_error(503)
    for attempt in range(1, 60):
        d = policy.delay(attempt, err, rand=top)
        assert d is not None and d <= 8.0
    assert policy.delay(50, err, rand=top) == 8.0


def test_custom_base_and_cap() -> None:
    policy = RetryPolicy(max_retries=5, base_delay=1.0, max_delay=3.0)
    err = APIConnectionError("x")
    assert [policy.delay(a, err, rand=top) for a in range(1, 5)] == [1.0, 2.0, 3.0, 3.0]


@settings(max_examples=200, deadline=None)
@given(attempt=st.integers(1, 50), r=st.floats(0.0, 1.0, exclude_max=True))
def test_jitter_bounds(attempt: int, r: float) -> None:
    policy = RetryPolicy(max_retries=100)
    d = policy.delay(attempt, APIConnectionError("x"), rand=lambda: r)
    assert d is not None
    backoff = min(8.0, 0.5 * 2 ** (attempt - 1))
    assert backoff * 0.5 <= d <= backoff


@pytest.mark.parametrize("attempt", [1025, 1026, 10**6, 10**18])
def test_huge_attempt_numbers_are_capped(attempt: int) -> None:
    policy = RetryPolicy(max_retries=10**18)
    err = APIConnectionError("x")
    assert policy.delay(attempt, err, rand=top) == 8.0
    assert policy.delay(attempt, err, rand=bottom) == 4.0


def test_huge_max_retries_does_every_retry() -> None:
    policy = RetryPolicy(max_retries=2000)
    err = http_error(503)
    delays = [policy.delay(a, err, rand=half) for a in range(1, 2002)]
    assert all(d is not None and d <= 8.0 for d in delays[:2000])
    assert delays[2000] is None


@pytest.mark.parametrize("r", [-1.0, 1.5, math.inf, -math.inf, math.nan, 1e300])
def test_out_of_range_rand_stays_in_bounds(r: float) -> None:
    d = RetryPolicy(max_retries=3).delay(3, APIConnectionError("x"), rand=lambda: r)
    assert d is not None and 1.0 <= d <= 2.0


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"max_retries": -1}, "max_retries"),
    ({"max_retries": True}, "max_retries"),
    ({"max_retries": 2.0}, "max_retries"),
    ({"base_delay": -0.1}, "base_delay"),
    ({"base_delay": math.nan}, "base_delay"),
    ({"max_delay": math.inf}, "max_delay"),
    ({"max_delay": 1e12}, "max_delay"),
    ({"max_retry_after": math.inf}, "max_retry_after"),
])
def test_policy_parameters_validated(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"RetryPolicy.{field}"):
        RetryPolicy(**kwargs)


def exact_backoff(base: float, cap: float, attempt: int) -> Fraction:
    """min(cap, base * 2**(attempt-1)) in exact arithmetic (no floats to overflow)."""
    n = max(attempt - 1, 0)
    if base == 0:
        return Fraction(0)
    if n > 1100:  # 2**1100 times the smallest float is far above any cap
        return Fraction(cap)
    return min(Fraction(cap), Fraction(base) * 2**n)


@settings(max_examples=500, deadline=None)
@given(
    attempt=st.one_of(st.integers(-3, 2000), st.integers(0, 10**20)),
    extra=st.integers(0, 10**20),
    base=st.one_of(st.just(0.0), st.floats(1e-300, 1e6)),
    cap=st.one_of(st.just(0.0), st.floats(1e-6, 1e9)),  # no subnormals: their rounding is absolute
    r=st.one_of(st.floats(0.0, 1.0), st.floats()),
)
def test_backoff_never_overflows_and_stays_in_bounds(attempt: int, extra: int, base: float, cap: float,
                                                     r: float) -> None:
    policy = RetryPolicy(max_retries=max(attempt, 0) + extra, base_delay=base, max_delay=cap)
    d = policy.delay(attempt, APIConnectionError("x"), rand=lambda: r)
    assert d is not None and math.isfinite(d)
    backoff = exact_backoff(base, cap, attempt)
    assert 0.0 <= d <= cap
    # the jitter factor is in [0.5, 1]: allow one rounding step of the float product
    assert backoff / 2 * (1 - Fraction(1, 2**50)) <= Fraction(d) <= backoff * (1 + Fraction(1, 2**50))
    if 0.0 <= r <= 1.0:
        factor = Fraction(0.5) + Fraction(0.5) * Fraction(r)
        assert abs(Fraction(d) - backoff * factor) <= backoff * Fraction(1, 2**50)


def test_rand_is_called_so_jitter_differs() -> None:
    policy = RetryPolicy()
    err = APIConnectionError("x")
    assert policy.delay(1, err, rand=bottom) != policy.delay(1, err, rand=lambda: 0.99)


def test_default_rand_stays_in_bounds() -> None:
    policy = RetryPolicy()
    for _ in range(200):
        d = policy.delay(2, APIConnectionError("x"))
        assert d is not None and 0.5 <= d <= 1.0


# -- what is retried ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses(status: int) -> None:
    assert RetryPolicy().delay(1, http_error(status), rand=half) is not None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 413, 418, 422, 501, 505])
def test_not_retryable_statuses(status: int) -> None:
    assert RetryPolicy().delay(1, http_error(status), rand=half) is None


def test_model_not_found_not_retried() -> None:
    body = b'{"error":{"message":"The model `x` does not exist.","type":"NotFoundError","param":"model","code":404}}'
    assert RetryPolicy().delay(1, error_from_response(404, {}, body), rand=half) is None


@pytest.mark.parametrize(
    ("err", "retried"),
    [
        (APIConnectionError("refused"), True),
        (APIConnectionError("broke mid-answer", retryable=False), False),
        (APITimeoutError("connect timeout"), True),
        (APITimeoutError("read timeout after bytes", retryable=False), False),
        (StreamTimeoutError("idle"), False),
        (StreamError("no [DONE]"), False),
        (ResponseParseError("not json"), False),
        (ToolArgumentsError("bad"), False),
        (ConnectionResetError("plain OSError"), False),
        (TimeoutError("plain"), False),
        (ValueError("not ours"), False),
        (KeyboardInterrupt(), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_retry_by_error_kind(err: BaseException, retried: bool) -> None:
    assert (RetryPolicy().delay(1, err, rand=half) is not None) is retried


# -- Retry-After ---------------------------------------------------------------------------------------


def test_retry_after_seconds_honoured() -> None:
    err = http_error(429, {"retry-after": "3"})
    assert RetryPolicy().delay(1, err, rand=top) == 3.0


def test_retry_after_fractional_and_zero() -> None:
    assert RetryPolicy().delay(1, http_error(503, {"retry-after": "1.5"}), rand=top) == 1.5
    assert RetryPolicy().delay(1, http_error(503, {"retry-after": "0"}), rand=top) == 0.0


def test_retry_after_http_date() -> None:
    date = email.utils.formatdate(NOW + 7, usegmt=True)
    err = http_error(503, {"retry-after": date})
    assert RetryPolicy().delay(1, err, rand=top, now=NOW) == pytest.approx(7.0)
    assert retry_after_seconds({"retry-after": date}, now=NOW) == pytest.approx(7.0)


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    date = email.utils.formatdate(NOW - 100, usegmt=True)
    assert retry_after_seconds({"retry-after": date}, now=NOW) == 0.0


def test_retry_after_ms_wins() -> None:
    headers = {"retry-after-ms": "250", "retry-after": "10"}
    assert retry_after_seconds(headers) == 0.25
    assert RetryPolicy().delay(1, http_error(429, headers), rand=top) == 0.25


def test_garbage_retry_after_ms_falls_back_to_retry_after() -> None:
    assert retry_after_seconds({"retry-after-ms": "soon", "retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "-5", "retry-after": "2"}) == 2.0


@pytest.mark.parametrize("garbage", ["soon", "", "   ", "-3", "nan", "Mon, 99 Foo 2024", "1s", "0x10"])
def test_garbage_retry_after_ignored(garbage: str) -> None:
    assert retry_after_seconds({"retry-after": garbage}) is None
    # backoff applies instead
    assert RetryPolicy().delay(1, http_error(503, {"retry-after": garbage}), rand=top) == 0.5


def test_absent_retry_after() -> None:
    assert retry_after_seconds({}) is None


def test_retry_after_capped() -> None:
    policy = RetryPolicy(max_retry_after=60.0)
    assert policy.delay(1, http_error(429, {"retry-after": "3600"}), rand=top) == 60.0
    assert policy.delay(1, http_error(429, {"retry-after-ms": "3600000"}), rand=top) == 60.0
    date = email.utils.formatdate(NOW + 86400, usegmt=True)
    assert policy.delay(1, http_error(429, {"retry-after": date}), rand=top, now=NOW) == 60.0
    assert RetryPolicy(max_retry_after=5).delay(1, http_error(503, {"retry-after": "30"}), rand=top) == 5


def test_retry_after_does_not_make_unretryable_errors_retryable() -> None:
    assert RetryPolicy().delay(1, http_error(400, {"retry-after": "1"}), rand=top) is None
    assert RetryPolicy().delay(1, http_error(401, {"retry-after-ms": "1"}), rand=top) is None


def test_retry_after_does_not_extend_attempts() -> None:
    assert RetryPolicy(max_retries=1).delay(2, http_error(429, {"retry-after": "1"}), rand=top) is None


# -- property: delay bounds ----------------------------------------------------------------------------

_header_values = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-1e6, 1e9).map(str),
    st.integers(-10**6, 10**12).map(str),
    st.floats(NOW - 1e7, NOW + 1e7).map(lambda t: email.utils.formatdate(t, usegmt=True)),
)


@settings(max_examples=400, deadline=None)
@given(
    status=st.sampled_from([400, 404, 408, 429, 500, 502, 503, 504]),
    attempt=st.integers(0, 30),
    max_retries=st.integers(0, 10),
    max_delay=st.floats(0.01, 100),
    max_retry_after=st.floats(0.0, 1000),
    base=st.floats(0.001, 10),
    r=st.floats(0.0, 1.0, exclude_max=True),
    ra=_header_values,
    ra_ms=_header_values,
)
def test_delay_always_within_bounds(status: int, attempt: int, max_retries: int, max_delay: float,
                                    max_retry_after: float, base: float, r: float, ra: str | None,
                                    ra_ms: str | None) -> None:
    headers = {}
    if ra is not None:
        headers["retry-after"] = ra
    if ra_ms is not None:
        headers["retry-after-ms"] = ra_ms
    policy = RetryPolicy(max_retries=max_retries, base_delay=base, max_delay=max_delay,
                         max_retry_after=max_retry_after)
    d = policy.delay(attempt, http_error(status, headers), rand=lambda: r, now=NOW)
    if attempt > max_retries or status in (400, 404):
        assert d is None
        return
    assert d is not None
    assert not math.isnan(d)
    assert 0.0 <= d <= max(max_delay, max_retry_after)


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=60), ms=st.one_of(st.none(), st.text(max_size=20)))
def test_retry_after_seconds_never_raises(value: str, ms: str | None) -> None:
    headers = {"retry-after": value}
    if ms is not None:
        headers["retry-after-ms"] = ms
    out = retry_after_seconds(headers, now=NOW)
    assert out is None or (isinstance(out, float) and out >= 0 and not math.isnan(out))
