"""``model=None``: the served-model lookup is one attempt of the caller's call (one retry
budget, the call's ``on_retry`` numbers), single-flight per client, and its failures say
what was going on and how to skip it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import vllm_client as vc
from vllm_client.testing import MockVllmServer

MSG = [{"role": "user", "content": "hello"}]


def test_discovery_shares_the_call_retry_budget(make_api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.fail_next(503, times=None, path="/v1/models")
    seen: list[int] = []
    api = make_api(vllm_mock.base_url, max_retries=3, on_retry=lambda attempt, err, delay: seen.append(attempt))
    api.fake_sleep()
    with pytest.raises(vc.ServiceUnavailableError, match=r"while discovering the served model \(pass model=\.\.\. to skip\)"):
        api(api.client.chat.completions.create(messages=MSG, max_tokens=2))
    assert len(vllm_mock.requests_to("/v1/models")) == 4  # 1 + max_retries, not (1 + 3) * (1 + 3)
    assert vllm_mock.requests_to("/v1/chat/completions") == []
    assert seen == [1, 2, 3]


def test_a_discovery_failure_then_success_continues_the_same_call(make_api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.fail_next(503, times=1, path="/v1/models")
    seen: list[int] = []
    api = make_api(vllm_mock.base_url, max_retries=2, on_retry=lambda attempt, err, delay: seen.append(attempt))
    api.fake_sleep()
    resp = api(api.client.chat.completions.create(messages=MSG, max_tokens=2))
    assert resp.model == vllm_mock.model and seen == [1]
    assert len(vllm_mock.requests_to("/v1/models")) == 2 and len(vllm_mock.requests_to("/v1/chat/completions")) == 1


def test_an_untargeted_fault_hits_the_users_request_not_the_discovery(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.fail_next(503)
    resp = api(api.client.chat.completions.create(messages=MSG, max_tokens=2))
    assert resp.content
    assert len(vllm_mock.requests_to("/v1/models")) == 1
    assert len(vllm_mock.requests_to("/v1/chat/completions")) == 2  # the 503, then the retry
    assert len(api.sleeps) == 1


def test_unreachable_server_fails_fast_and_names_the_call() -> None:
    client = vc.VllmClient("http://127.0.0.1:9/v1", max_retries=2)
    client._sleep = lambda d: None
    with pytest.raises(vc.APIConnectionError) as info:
        client.chat.completions.create(messages=MSG)
    text = str(info.value)
    assert "while discovering the served model (pass model=... to skip)" in text
    assert "POST /chat/completions" in text and "after 3 attempt(s)" in text


def test_twenty_concurrent_first_calls_send_one_lookup_async(vllm_mock: MockVllmServer) -> None:
    async def main() -> None:
        async with vc.AsyncVllmClient(vllm_mock.base_url) as client:
            answers = await asyncio.gather(*(client.chat.completions.create(messages=MSG, max_tokens=1)
                                             for _ in range(20)))
            assert all(a.model == vllm_mock.model for a in answers)

    asyncio.run(main())
    assert len(vllm_mock.requests_to("/v1/models")) == 1
    assert len(vllm_mock.requests_to("/v1/chat/completions")) == 20


def test_twenty_concurrent_first_calls_send_one_lookup_threads(vllm_mock: MockVllmServer) -> None:
    barrier = threading.Barrier(20)
    models: list[str] = []
    with vc.VllmClient(vllm_mock.base_url) as client:
        def call() -> None:
            barrier.wait()
            models.append(client.chat.completions.create(messages=MSG, max_tokens=1).model)

        threads = [threading.Thread(target=call) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert models == [vllm_mock.model] * 20
    assert len(vllm_mock.requests_to("/v1/models")) == 1


def test_discovery_is_shared_by_with_options_copies(vllm_mock: MockVllmServer) -> None:
    with vc.VllmClient(vllm_mock.base_url) as client:
        client.with_options(timeout=9).chat.completions.create(messages=MSG, max_tokens=1)
        client.chat.completions.create(messages=MSG, max_tokens=1)
    assert len(vllm_mock.requests_to("/v1/models")) == 1


def test_failing_the_listing_itself_still_works(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.fail_next(500, path="/v1/models")
    api.client = api.client.with_options(max_retries=0)
    with pytest.raises(vc.InternalServerError):
        api(api.client.models.list())
