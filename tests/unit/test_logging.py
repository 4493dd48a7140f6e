"""The vllm_client logger tree: NullHandler at the top, VLLM_CLIENT_LOG, redacted records."""

from __future__ import annotations

import logging

import pytest

from vllm_client import _logging as vlog

SECRET = "sk-unit-SECRET-4242"


def test_library_adds_only_a_null_handler() -> None:
    top = logging.getLogger("vllm_client")
    assert any(isinstance(h, logging.NullHandler) for h in top.handlers)
    for name in ("vllm_client.http", "vllm_client.retry", "vllm_client.fleet"):
        assert logging.getLogger(name).handlers == []


def test_env_switch_installs_one_stderr_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    top = logging.getLogger("vllm_client")
    before, level = list(top.handlers), top.level
    try:
        vlog.configure_from_env({"VLLM_CLIENT_LOG": "debug"})
        vlog.configure_from_env({"VLLM_CLIENT_LOG": "DEBUG"})  # idempotent
        added = [h for h in top.handlers if h not in before]
        assert len(added) == 1 and top.level == logging.DEBUG
        vlog.configure_from_env({"VLLM_CLIENT_LOG": "info"})
        assert top.level == logging.INFO
        vlog.configure_from_env({"VLLM_CLIENT_LOG": "bogus"})  # ignored
        assert top.level == logging.INFO
    finally:
        top.handlers[:] = before
        top.setLevel(level)


def test_records_carry_no_credentials(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="vllm_client")
    url = f"http://user:{SECRET}@h:8000/v1/chat/completions?api_key={SECRET}&x=1"
    vlog.log_attempt("POST", url, 200, "rid-1", 0.0123)
    vlog.log_attempt("POST", url, None, "rid-2", 0.5, error=ConnectionError("refused"))
    vlog.log_retry(1, RuntimeError("503 busy"), 0.25, "rid-2", what="POST /chat/completions")
    vlog.breaker_opened(url, failures=5, cooldown_s=10, reason=ConnectionError("refused"))
    assert len(caplog.records) == 4
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in repr(record.__dict__)
    first, failed, retry, breaker = caplog.records
    assert first.getMessage().startswith("POST http://h:8000/v1/chat/completions?api_key=***&x=1 -> 200")
    assert (first.levelno, first.status, first.request_id) == (logging.DEBUG, 200, "rid-1")  # type: ignore[attr-defined]
    assert first.server == "h:8000"  # type: ignore[attr-defined]
    assert "failed: ConnectionError: refused" in failed.getMessage()
    assert retry.levelno == logging.INFO and retry.attempt == 1 and retry.delay_s == 0.25  # type: ignore[attr-defined]
    assert breaker.levelno == logging.WARNING and breaker.name == "vllm_client.fleet"
    assert "after 5 failure(s)" in breaker.getMessage()


def test_nothing_is_built_when_disabled(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="vllm_client")
    vlog.log_attempt("GET", "http://h/v1/models", 200, "r", 0.1)
    vlog.log_retry(1, RuntimeError("x"), 0.1)
    assert caplog.records == []
