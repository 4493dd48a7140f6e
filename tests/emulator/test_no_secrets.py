"""The API key, the Authorization header and api_key= in URLs never appear in a log record,
a repr or an exception, across many call types, retries, errors, streams and broken streams.

(The whole fast tier is scanned too: tests/conftest.py records every ``vllm_client`` log
record of the run and fails the session if one contains a key a client was built with.)"""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest

import vllm_client as vc
from vllm_client.testing import MockVllmServer, StreamDrop, StreamErrorFrame

KEY = "sk-SECRET-0123456789abcdef"
MSGS = [{"role": "user", "content": "hi"}]


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _exercise(api: Any, server: MockVllmServer) -> list[BaseException]:
    """Calls of every kind; returns the exceptions they raised."""
    errors: list[BaseException] = []
    client = api.client

    def attempt(thunk: Any) -> None:
        try:
            result = api(thunk())
            if hasattr(result, "metrics"):  # a stream
                api.events(result)
        except vc.VllmError as exc:
            errors.append(exc)

    attempt(lambda: client.chat.completions.create(messages=MSGS, max_tokens=3))
    attempt(lambda: client.completions.create(prompt="x", max_tokens=3))
    attempt(lambda: client.embeddings.create(input="x", model=server.model))
    attempt(client.models.list)
    attempt(lambda: client.tokenize("hello"))
    attempt(lambda: client.chat.completions.create(messages=MSGS, max_tokens=3, stream=True))
    server.fail_next(503, path="/v1/chat/completions")  # retried, then fine
    attempt(lambda: client.chat.completions.create(messages=MSGS, max_tokens=3))
    server.fail_next(500, times=5, path="/v1/chat/completions")  # retries exhausted
    attempt(lambda: client.chat.completions.create(messages=MSGS, max_tokens=3))
    attempt(lambda: client.chat.completions.create(messages=MSGS, max_tokens=10**8))  # 400
    server.drop_next(times=5, path="/v1/completions")
    attempt(lambda: client.completions.create(prompt="x", max_tokens=3))
    server.add_fault(StreamErrorFrame(after_chunks=1))
    attempt(lambda: client.chat.completions.create(messages=MSGS, max_tokens=5, stream=True))
    server.add_fault(StreamDrop(after_chunks=1))
    attempt(lambda: client.chat.completions.create(messages=MSGS, max_tokens=5, stream=True))
    wrong = client.with_options(api_key=KEY[::-1])
    attempt(lambda: wrong.chat.completions.create(messages=MSGS, max_tokens=3))  # 401: names no key
    return errors


def _scan(texts: list[str], secrets: tuple[str, ...]) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, text


def test_no_secret_anywhere(make_api: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="vllm_client")
    with MockVllmServer(api_key=KEY) as server:
        api = make_api(f"{server.url}/v1?api_key={KEY}", api_key=KEY, timeout=10, max_retries=2)
        api.fake_sleep()
        errors = _exercise(api, server)
        dead = make_api(f"http://user:{KEY}@127.0.0.1:{_dead_port()}/v1?api_key={KEY}", max_retries=1,
                        timeout=vc.Timeout(connect=2, read=2))
        dead.fake_sleep()
        with pytest.raises(vc.APIConnectionError) as info:
            dead(dead.client.models.list())
        errors.append(info.value)
    kinds = {type(e).__name__ for e in errors}
    assert {"InternalServerError", "BadRequestError", "APIConnectionError", "StreamError",
            "AuthenticationError"} <= kinds, kinds
    levels = {r.levelno for r in caplog.records}
    assert {logging.DEBUG, logging.INFO} <= levels  # requests and retries were logged
    texts = [repr(api.client), repr(dead.client)]  # (client.base_url / .api_key are the caller's own values)
    for exc in errors:
        texts += [str(exc), repr(exc), str(getattr(exc, "hint", "")), repr(exc.__dict__)]
        cause = exc.__cause__
        if cause is not None:
            texts += [str(cause), repr(cause)]
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.__dict__)]
    assert any("api_key=***" in t for t in texts)  # the URL was there, masked
    _scan(texts, (KEY, KEY[::-1], f"Bearer {KEY}"))
