"""Retry decisions for LLM serving: which failures to retry and how long to wait. Pure.

The I/O shells ask :meth:`RetryPolicy.delay` after each failed attempt and sleep for the
answer (or give up on ``None``). Randomness comes in as a function so tests can pin it.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ._config import check_max_retries, check_seconds
from ._errors import APIError, VllmError

__all__ = ["RetryPolicy", "retry_after_seconds"]


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The wait a server asked for: ``retry-after-ms``, else ``Retry-After`` (seconds or an
    HTTP date). ``None`` when absent or unreadable. ``headers`` keys are lower-case."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            value = float(raw_ms) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0:
            return value
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        value = when.timestamp() - (time.time() if now is None else now)
        return max(0.0, value)
    return value if value >= 0 else None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter (``base * 2**(n-1)``, times a factor in [0.5, 1],
    capped at ``max_delay``), or the server's ``Retry-After`` up to ``max_retry_after``.

    Retried: connection errors, timeouts before any response byte, 408, 429, 500, 502,
    503, 504. Never: 400, 401, 403, 404, 422 or anything a retry cannot fix.

    Any ``max_retries`` and attempt number work: the backoff is computed without float
    overflow, and every delay is finite and at most ``max_delay`` (or ``max_retry_after``),
    both bounded by :data:`~vllm_client._config.MAX_SECONDS` so the sleep cannot overflow
    either. An injected ``rand`` outside [0, 1] (or NaN) is clamped.
    """

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        check_max_retries(self.max_retries, "RetryPolicy.max_retries")
        for name in ("base_delay", "max_delay", "max_retry_after"):
            check_seconds(f"RetryPolicy.{name}", getattr(self, name), allow_zero=True, allow_none=False)

    def delay(
        self,
        attempt: int,
        error: BaseException,
        *,
        rand: Callable[[], float] = random.random,
        now: float | None = None,
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up.

        ``attempt`` is the 1-based number of the attempt that just failed.
        """
        if attempt > self.max_retries:
            return None
        if not isinstance(error, VllmError) or not error.is_retryable:
            return None
        if isinstance(error, APIError):
            asked = retry_after_seconds(error.headers, now=now)
            if asked is not None:
                return float(min(asked, self.max_retry_after))
        try:  # base * 2**(attempt-1), exact; ``2.0 ** n`` would raise from n = 1024 on
            grown = math.ldexp(self.base_delay, max(attempt - 1, 0))
        except OverflowError:
            grown = math.inf  # base > 0 and a huge attempt number: the cap takes over
        backoff: float = min(self.max_delay, grown)
        r = float(rand())
        if not 0.0 <= r <= 1.0:  # a bad injected rand (or NaN) must not leave the bounds
            r = 1.0 if r > 1.0 else 0.0
        return backoff * (0.5 + 0.5 * r)
