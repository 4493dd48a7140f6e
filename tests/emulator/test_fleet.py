"""Several emulators behind one client: routing, failover before the first byte, vLLM's
admission 503, breaker states, ``client.servers``, ``resp.server`` / ``stream.server``,
``X-Session-ID``; and the in-flight counts returning to 0 after thousands of randomized
requests with every kind of ending (sync and async)."""

from __future__ import annotations

import asyncio
import gc
import random
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from vllm_client import APIError, AsyncVllmClient, StreamError, Timeout, VllmClient
from vllm_client._call import Call
from vllm_client._routing import BreakerConfig, Fleet
from vllm_client.testing import Delay, DropConnection, HttpError, MockVllmServer, StreamDrop

MESSAGES = [{"role": "user", "content": "hi"}]
CHAT = "/v1/chat/completions"
#: vLLM 0.32's admission-control answer (vllm/exceptions.py QueueOverflowError, GracefulHTTPError shape)
QUEUE_FULL = HttpError(503, "The engine is currently busy and cannot accept new requests. Please try again later "
                       "or on a different instance.", error_type="Service Unavailable")


@pytest.fixture
def mocks() -> Iterator[list[MockVllmServer]]:
    servers = [MockVllmServer().start() for _ in range(2)]
    yield servers
    for s in servers:
        s.stop()


def served(mocks: list[MockVllmServer]) -> list[int]:
    return [len(m.requests_to(CHAT)) for m in mocks]


def urls(mocks: list[MockVllmServer]) -> list[str]:
    return [m.base_url for m in mocks]


def no_wait(api: Any) -> None:
    api.fake_sleep()


def test_least_outstanding_spreads_and_reports_the_server(make_api: Any, mocks: list[MockVllmServer]) -> None:
    api = make_api(urls(mocks))
    seen = Counter(api(api.client.chat.completions.create(messages=MESSAGES)).server for _ in range(10))
    assert seen == Counter({mocks[0].base_url: 5, mocks[1].base_url: 5})  # sequential: ties rotate
    stream = api(api.client.chat.completions.create(messages=MESSAGES, stream=True))
    assert stream.server in urls(mocks)
    api.events(stream)
    statuses = api.client.servers
    assert [s.url for s in statuses] == urls(mocks)
    assert sum(s.requests for s in statuses) == 11 and all(s.inflight == 0 and s.state == "closed" for s in statuses)


def test_failover_to_the_other_server_when_one_is_down(make_api: Any, mocks: list[MockVllmServer]) -> None:
    api = make_api(urls(mocks), max_retries=2)
    no_wait(api)
    retries: list[tuple[int, str | None, float]] = []
    client = api.client.with_options(on_retry=lambda n, err, delay: retries.append((n, err.server, delay)))
    client._sleep = api.client._sleep
    mocks[0].stop()
    for _ in range(8):
        resp = api(client.chat.completions.create(messages=MESSAGES))
        assert resp.server == mocks[1].base_url
    assert retries and all(server == mocks[0].base_url and delay == 0.0 for _, server, delay in retries)
    first = api.client.servers[0]
    assert first.state == "open" and first.failures >= 1 and first.last_error and first.inflight == 0


def test_admission_503_goes_elsewhere_at_once_without_opening_the_breaker(
        make_api: Any, mocks: list[MockVllmServer]) -> None:
    api = make_api(urls(mocks), max_retries=3)
    no_wait(api)
    api.client._core.fleet.breakers[0].config = BreakerConfig(threshold=1)
    mocks[0].add_fault(QUEUE_FULL, times=None)
    for _ in range(6):
        assert api(api.client.chat.completions.create(messages=MESSAGES)).server == mocks[1].base_url
    assert api.sleeps and set(api.sleeps) == {0.0}
    status = api.client.servers[0]
    assert status.state == "closed" and status.failures >= 1 and "busy" in (status.last_error or "")


def test_plain_5xx_opens_the_breaker_then_one_probe_closes_it(make_api: Any, mocks: list[MockVllmServer]) -> None:
    api = make_api(urls(mocks), max_retries=2)
    no_wait(api)
    fleet: Fleet = api.client._core.fleet
    clock = [100.0]
    fleet.clock = lambda: clock[0]
    for b in fleet.breakers:
        b.config = BreakerConfig(threshold=2, base_cooldown=5)
    mocks[0].add_fault(HttpError(502, "bad gateway", body=b"<html>bad gateway</html>"), times=2)
    for _ in range(6):
        api(api.client.chat.completions.create(messages=MESSAGES))
    assert api.client.servers[0].state == "open"
    before = served(mocks)
    api(api.client.chat.completions.create(messages=MESSAGES))
    assert served(mocks)[0] == before[0]  # open: skipped
    clock[0] += 5
    assert api.client.servers[0].state == "half_open"
    for _ in range(4):  # least outstanding: the half-open server takes its turn (ties rotate)
        stream = api(api.client.chat.completions.create(messages=MESSAGES, stream=True))
        if stream.server == mocks[0].base_url:
            break  # the probe, kept open
        api.events(stream)
    assert stream.server == mocks[0].base_url
    assert api.client.servers[0].state == "half_open"
    assert api(api.client.chat.completions.create(messages=MESSAGES)).server == mocks[1].base_url  # one probe only
    api.events(stream)
    assert api.client.servers[0].state == "closed"


def test_session_id_is_sticky_and_sent_as_header(make_api: Any, mocks: list[MockVllmServer]) -> None:
    api = make_api(urls(mocks), routing="session_affinity")
    got = {api(api.client.chat.completions.create(messages=MESSAGES, session_id="user-42")).server
           for _ in range(6)}
    assert len(got) == 1
    target = mocks[urls(mocks).index(got.pop())]
    assert target.last_request.headers.get("x-session-id") == "user-42"
    conv = api.client.conversation("sys")
    api(conv.send("hello"))
    api(conv.send("again"))
    sids = {r.headers.get("x-session-id") for m in mocks for r in m.requests_to(CHAT)} - {"user-42"}
    assert sids == {conv.session_id}


def test_with_options_routing_is_the_copys_own_over_shared_counts(make_api: Any, mocks: list[MockVllmServer]) -> None:
    api = make_api(urls(mocks), routing="session_affinity")
    with pytest.raises(ValueError, match="routing must be one of"):
        api.client.with_options(routing="random")
    copy = api.client.with_options(routing="round_robin")
    assert copy.routing == "round_robin" and api.client.routing == "session_affinity"
    assert copy.with_options(max_retries=1).routing == "round_robin"  # a copy of the copy keeps it
    assert sum(served(mocks)) == 0  # the bad name sent nothing
    spread = Counter(api(copy.chat.completions.create(messages=MESSAGES, session_id="s1")).server for _ in range(6))
    assert spread == Counter({mocks[0].base_url: 3, mocks[1].base_url: 3})  # in turn, whatever the session
    sticky = {api(api.client.chat.completions.create(messages=MESSAGES, session_id="s1")).server for _ in range(4)}
    assert len(sticky) == 1  # the parent still routes by session
    assert sum(st.requests for st in api.client.servers) == 10  # one fleet: the copy's requests counted too


def test_prefix_affinity_keeps_a_system_prompt_on_one_server(make_api: Any, mocks: list[MockVllmServer]) -> None:
    api = make_api(urls(mocks), routing="prefix_affinity")
    systems = [f"You are assistant number {i}. " * 40 for i in range(4)]
    homes: dict[int, set[str]] = {}
    for turn in range(3):
        for i, system in enumerate(systems):
            resp = api(api.client.chat.completions.create(
                messages=[{"role": "system", "content": system}, {"role": "user", "content": f"q{turn}"}]))
            homes.setdefault(i, set()).add(resp.server or "")
    assert all(len(h) == 1 for h in homes.values())
    assert len({next(iter(h)) for h in homes.values()}) == 2  # cold prompts spread over both


def test_stream_broken_after_first_event_is_a_stream_error_not_a_switch(
        make_api: Any, mocks: list[MockVllmServer]) -> None:
    api = make_api(urls(mocks), routing="round_robin")
    assert api.client.routing == "round_robin" and make_api(urls(mocks)).client.routing == "least_outstanding"
    for m in mocks:
        m.add_fault(StreamDrop(after_chunks=2))
    stream = api(api.client.chat.completions.create(messages=MESSAGES, stream=True))
    with pytest.raises(StreamError) as info:
        api.events(stream)
    assert info.value.partial is not None
    assert sum(served(mocks)) == 1


def test_drop_before_any_byte_fails_over(make_api: Any, mocks: list[MockVllmServer]) -> None:
    api = make_api(urls(mocks), routing="round_robin", max_retries=2)
    no_wait(api)
    for m in mocks:
        m.add_fault(DropConnection(), times=1)
    resp = api(api.client.chat.completions.create(messages=MESSAGES))
    # the retry after the first drop went to the other server (which dropped too), the third attempt worked
    assert resp.content and sorted(served(mocks)) == [1, 2]


# -- in-flight accounting under randomized endings ---------------------------------------------

class Tally:
    """An observer checking the lifecycle: starts == ends, every attempt closed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = self.ended = self.open = 0
        self.outcomes: Counter[str] = Counter()

    def call_started(self, call: Call) -> None:
        with self.lock:
            self.started += 1

    def attempt_started(self, call: Call, server: int) -> None:
        with self.lock:
            self.open += 1

    def attempt_ended(self, call: Call, server: int, error: BaseException | None) -> None:
        with self.lock:
            self.open -= 1

    def first_token(self, call: Call) -> None:
        return None

    def call_ended(self, call: Call, error: BaseException | None) -> None:
        with self.lock:
            self.ended += 1
            self.outcomes[call.outcome or "?"] += 1


KINDS = ["plain", "plain", "stream", "stream_close", "stream_abandon", "http_error", "drop", "slow"]


def arm(mock: MockVllmServer, kind: str) -> None:
    if kind == "http_error":
        mock.add_fault(HttpError(500, "boom"))
    elif kind == "drop":
        mock.add_fault(StreamDrop(after_chunks=1))
    elif kind == "slow":
        mock.add_fault(Delay(0.05))


def collect() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def check_counts(client: Any, tally: Tally, total: int) -> None:
    statuses = client.servers
    assert [s.inflight for s in statuses] == [0, 0]
    assert tally.open == 0 and tally.started == tally.ended
    assert tally.started > 0.9 * total  # (a task cancelled before it ran never started a call)
    assert sum(s.requests for s in statuses) >= tally.started


TOTAL = int(__import__("os").environ.get("FLEET_TOTAL", "10000"))


def test_ten_thousand_randomized_requests_async(mocks: list[MockVllmServer]) -> None:
    total = TOTAL
    rng = random.Random(7)
    tally = Tally()

    async def one(client: AsyncVllmClient, kind: str) -> None:
        arm(mocks[rng.randrange(2)], kind)
        try:
            if kind in ("plain", "http_error", "slow"):
                await client.chat.completions.create(messages=MESSAGES)
                return
            stream = await client.chat.completions.create(messages=MESSAGES, stream=True)
            if kind == "stream_abandon":
                async for _ in stream:
                    break
                del stream
                return
            async with stream:
                async for _ in stream:
                    if kind == "stream_close":
                        break
        except (APIError, StreamError, ConnectionError):
            pass

    async def main() -> None:
        async with AsyncVllmClient(urls(mocks), max_retries=1, timeout=Timeout(read=2)) as client:
            client._core.add_observer(tally)
            client._sleep = lambda d: asyncio.sleep(0)  # type: ignore[assignment]
            sem = asyncio.Semaphore(32)
            pending: set[asyncio.Task[None]] = set()

            async def guarded(kind: str) -> None:
                async with sem:
                    await one(client, kind)

            for i in range(total):
                task = asyncio.ensure_future(guarded(rng.choice(KINDS)))
                pending.add(task)
                task.add_done_callback(pending.discard)
                if i % 7 == 3:  # cancel a random running request
                    await asyncio.sleep(0)
                    victim = rng.choice(list(pending))
                    victim.cancel()
                if len(pending) > 64:
                    await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if i % 50 == 0:
                    collect()  # abandoned streams hold a server slot until the collector runs
            await asyncio.gather(*pending, return_exceptions=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)
                gc.collect()
            await asyncio.sleep(0)
            check_counts(client, tally, total)
            assert tally.outcomes["cancelled"] > total // 100 and tally.outcomes["closed"] > total // 100

    asyncio.run(main())


def test_ten_thousand_randomized_requests_sync(mocks: list[MockVllmServer]) -> None:
    total = TOTAL
    tally = Tally()
    client = VllmClient(urls(mocks), max_retries=1, timeout=Timeout(read=2))
    client._core.add_observer(tally)
    client._sleep = lambda d: None  # type: ignore[assignment]

    def worker(seed: int, count: int) -> None:
        rng = random.Random(seed)
        for _ in range(count):
            kind = rng.choice(KINDS)
            arm(mocks[rng.randrange(2)], kind)
            try:
                if kind in ("plain", "http_error", "slow"):
                    client.chat.completions.create(messages=MESSAGES)
                    continue
                stream = client.chat.completions.create(messages=MESSAGES, stream=True)
                if kind == "stream_abandon":
                    for _ in stream:
                        break
                    del stream
                    if rng.random() < 0.05:
                        collect()
                    continue
                with stream:
                    for _ in stream:
                        if kind == "stream_close":
                            break
            except (APIError, StreamError, ConnectionError):
                pass

    threads = [threading.Thread(target=worker, args=(i, total // 8)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    try:
        check_counts(client, tally, total)
        assert tally.outcomes["closed"] > total // 100 and tally.outcomes["abandoned"] > total // 100
    finally:
        client.close()


def test_active_health_probe_brings_a_restarted_server_back_before_its_cooldown(make_api: Any) -> None:
    first = MockVllmServer().start()
    port = first.port
    other = MockVllmServer().start()
    api = make_api([first.base_url, other.base_url], max_retries=2, health_check_interval=0.05)
    no_wait(api)
    try:
        first.stop()
        for _ in range(8):  # 5 consecutive failures open its breaker (30 s cooldown)
            api(api.client.chat.completions.create(messages=MESSAGES))
        assert api.client.servers[0].state == "open"
        again = MockVllmServer(port=port).start()
        try:
            deadline = time.monotonic() + 20
            while api.client.servers[0].state != "closed" and time.monotonic() < deadline:
                api(api.client.chat.completions.create(messages=MESSAGES))
                time.sleep(0.02)
            assert api.client.servers[0].state == "closed"  # long before the 30 s cooldown
            assert again.requests_to("/health") and again.requests_to(CHAT)
        finally:
            again.stop()
    finally:
        other.stop()
