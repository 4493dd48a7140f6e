"""The ``vllm_client`` logger tree, and the few log calls the client makes.

Library practice (Python Logging HOWTO, "Configuring Logging for a Library"): one
``NullHandler`` on the top logger ``vllm_client``, no handler or level set anywhere else,
so records go wherever the application sends them. ``VLLM_CLIENT_LOG=debug|info`` (like
openai-python's ``OPENAI_LOG``) adds a plain stderr handler to *our* tree only, never to
transport loggers.

Loggers: ``vllm_client.http`` (DEBUG, one record per HTTP attempt: method, URL, status,
request id, server, duration), ``vllm_client.retry`` (INFO, one per retry: attempt,
reason, delay), ``vllm_client.fleet`` (WARNING when a server's circuit breaker opens:
:func:`breaker_opened`, for the router to call).

Secrets never reach a record. Redaction is at the source, because a logger's filter does
not see its children's records: URLs pass through :func:`~vllm_client._config.redact_url`
(userinfo dropped, ``api_key=``-like query values masked), headers are never logged, and
error reasons are the exception's class and message, which our errors build from
redacted URLs (``tests/unit/test_no_secrets_in_logs.py`` scans every record of many calls
for the key). Structured fields ride in ``extra=`` (``request_id``, ``status``,
``duration_s``, ``attempt``, ``delay_s``, ``server``) for JSON formatters.

Cost when nobody listens: each call site tests ``isEnabledFor`` first (a cached dict
lookup, ~50 ns) and builds nothing otherwise.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from ._config import redact_url

__all__ = [
    "DEBUG",
    "LOG_ENV",
    "breaker_opened",
    "configure_from_env",
    "http_log",
    "log_attempt",
    "log_retry",
    "retry_log",
]

LOG_ENV = "VLLM_CLIENT_LOG"
FORMAT = "[%(asctime)s - %(name)s - %(levelname)s] %(message)s"

root_log = logging.getLogger("vllm_client")
root_log.addHandler(logging.NullHandler())
http_log = logging.getLogger("vllm_client.http")
retry_log = logging.getLogger("vllm_client.retry")
fleet_log = logging.getLogger("vllm_client.fleet")

DEBUG = _DEBUG = logging.DEBUG
_INFO = logging.INFO


def log_attempt(method: str, url: str, status: int | None, request_id: str, duration_s: float,
                error: BaseException | None = None) -> None:
    """One HTTP attempt, at DEBUG (``status`` None: no answer, ``error`` says why); ``duration_s``
    until the answer's head (or the failure)."""
    if not http_log.isEnabledFor(_DEBUG):
        return
    where = redact_url(url)
    host = where.split("/", 3)[2] if where.count("/") >= 2 else where
    outcome = f"failed: {_reason(error)}" if status is None else str(status)
    http_log.debug("%s %s -> %s (request_id=%s, %.1f ms)", method, where, outcome, request_id, duration_s * 1000,
                   extra={"request_id": request_id, "status": status, "duration_s": duration_s, "server": host,
                          "method": method, "url": where})


def log_retry(attempt: int, error: BaseException, delay: float, request_id: str | None = None,
              what: str | None = None) -> None:
    """A retry is about to wait ``delay`` seconds after ``attempt`` failed, at INFO."""
    if not retry_log.isEnabledFor(_INFO):
        return
    call = f"{what} " if what else ""
    retry_log.info("%sattempt %d failed (%s); retrying in %.2f s (request_id=%s)", call, attempt, _reason(error),
                   delay, request_id, extra={"attempt": attempt, "delay_s": delay, "request_id": request_id,
                                             "reason": type(error).__name__})


def breaker_opened(url: str, *, failures: int | None = None, cooldown_s: float | None = None,
                   reason: BaseException | str | None = None) -> None:
    """A server's circuit breaker opened (the router stops sending to it), at WARNING."""
    if not fleet_log.isEnabledFor(logging.WARNING):
        return
    where = redact_url(url)
    parts = [f"circuit breaker opened for {where}"]
    if failures is not None:
        parts.append(f"after {failures} failure(s)")
    if reason is not None:
        parts.append(f"(last: {reason if isinstance(reason, str) else _reason(reason)})")
    if cooldown_s is not None:
        parts.append(f"; retrying it in {cooldown_s:.1f} s")
    fleet_log.warning(" ".join(parts), extra={"server": where, "failures": failures, "cooldown_s": cooldown_s})


def _reason(error: BaseException | None) -> str:
    if error is None:
        return "unknown"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class _EnvHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler ``VLLM_CLIENT_LOG`` installs (a type of its own: installed once)."""


def configure_from_env(env: Mapping[str, str] | None = None) -> None:
    """``VLLM_CLIENT_LOG=debug|info|warning``: a stderr handler on ``vllm_client`` at that level.
    Anything else (or unset) leaves logging to the application."""
    value = (env if env is not None else os.environ).get(LOG_ENV, "").strip().lower()
    level = {"debug": _DEBUG, "info": _INFO, "warning": logging.WARNING}.get(value)
    if level is None:
        return
    if not any(isinstance(h, _EnvHandler) for h in root_log.handlers):
        handler = _EnvHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        root_log.addHandler(handler)
    root_log.setLevel(level)


configure_from_env()  # the application asked through the environment (read once, at import)
