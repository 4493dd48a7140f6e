"""The client behind an existing gateway: ``vllm-router`` (PyPI, pinned; vllm-project/router)
on loopback in front of two REAL vLLM servers, the client pointed at it with one URL.

What a user moving from ``VllmClient([a, b])`` to a gateway must be able to rely on, checked:
answers and streams pass through unchanged (seeded sampling: the same text as from a server
directly), vLLM's errors keep their shape (status, message, ``param``), ``X-Session-ID`` keeps
a conversation on one server (shown by the servers' own ``vllm:request_success_total``
counters), and what a dead server looks like from behind the gateway: the gateway's own 500
(not vLLM-shaped) until its breaker ejects the server, which the client's retries absorb.
Relative assertions only; the counts the last test measures are printed (``-s``) and written
up in the README ("Behind a gateway").
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest

from vllm_client import BadRequestError, InternalServerError, NotFoundError, VllmClient

from .conftest import RealServer, manager
from .harness import gateway

pytestmark = pytest.mark.vllm_variant("plain")

MSG = [{"role": "user", "content": "Say hello."}]


def served(server: RealServer) -> float:
    """Requests this server finished (``vllm:request_success_total``, all finish reasons)."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("vllm:request_success_total"))


@pytest.fixture(scope="module")
def pair() -> list[RealServer]:
    return manager().get_many("plain", 2)


@pytest.fixture
def gw(pair: list[RealServer]) -> Iterator[gateway.Gateway]:
    g = gateway.start([s.url for s in pair], gateway.free_port(), policy="consistent_hash")
    yield g
    g.stop()


def test_answers_and_streams_pass_through_unchanged(gw: gateway.Gateway, pair: list[RealServer]) -> None:
    with VllmClient(gw.base_url, timeout=120) as via, pair[0].client() as direct:
        a = via.chat.completions.create(messages=MSG, max_tokens=6, seed=3)
        b = direct.chat.completions.create(messages=MSG, max_tokens=6, seed=3)
        assert a.choices[0].message.content == b.choices[0].message.content and a.usage == b.usage
        assert a.model == "tiny" and [m.id for m in via.models.list()] == ["tiny"]
        with via.chat.completions.create(messages=MSG, max_tokens=6, seed=3, stream=True) as s:
            text = "".join(s.text_stream)
            final = s.final()
        assert text == b.choices[0].message.content and final.choices[0].finish_reason == "length"
        c = via.completions.create(prompt="Once", max_tokens=4, seed=2)
        assert c.choices[0].text == direct.completions.create(prompt="Once", max_tokens=4, seed=2).choices[0].text


def test_vllm_errors_keep_their_shape(gw: gateway.Gateway) -> None:
    with VllmClient(gw.base_url, timeout=120, max_retries=0) as via:
        with pytest.raises(BadRequestError, match="cannot be greater than max_model_len") as bad:
            via.chat.completions.create(messages=MSG, max_tokens=5000)
        assert bad.value.param == "max_tokens" and not bad.value.is_retryable
        with pytest.raises(NotFoundError, match="The model `nope` does not exist"):
            via.chat.completions.create(messages=MSG, max_tokens=2, model="nope")


def test_session_header_keeps_a_conversation_on_one_server(gw: gateway.Gateway, pair: list[RealServer]) -> None:
    placed: dict[str, int] = {}
    with VllmClient(gw.base_url, timeout=120) as via:
        for n in range(16):
            session = f"user-{n}"
            before = [served(s) for s in pair]
            for _ in range(3):
                via.chat.completions.create(messages=MSG, max_tokens=1, extra_headers={"X-Session-ID": session})
            delta = [served(s) - b for s, b in zip(pair, before, strict=True)]
            assert sorted(delta) == [0, 3], (session, delta)  # all three on one server
            placed[session] = delta.index(3)
    assert set(placed.values()) == {0, 1}, placed  # and the sessions spread (p of not: 2**-15)


def ask(via: VllmClient, session: str | None = None) -> str | InternalServerError:
    headers = {} if session is None else {"X-Session-ID": session}
    try:
        # model= given: the discovery GET /v1/models is not retried inside the gateway (seen: a
        # dead server's 500 for it), and it is not what this test looks at
        via.chat.completions.create(messages=MSG, max_tokens=1, model="tiny", extra_headers=headers)
        return "ok"
    except InternalServerError as exc:
        return exc


def test_a_dead_server_behind_the_gateway(pair: list[RealServer]) -> None:
    workers = [s.url for s in pair]
    dead = pair[1]
    dead.stop()  # the manager restarts it when a later test asks for it
    # round robin: the gateway retries a failed send on the other server: no client sees it
    g = gateway.start(workers, gateway.free_port(), policy="round_robin")
    try:
        with VllmClient(g.base_url, timeout=120, max_retries=0) as via:
            assert [ask(via) for _ in range(8)] == ["ok"] * 8
        rr_attempts = g.log_text().count("Failed to send")
        assert rr_attempts >= 1  # it did meet the dead server
    finally:
        g.stop()
    # session hashing: a session placed on the dead server fails (the gateway's own 500, not
    # vLLM-shaped) until the gateway's breaker ejects the server
    sessions = [f"s-{n}" for n in range(16)]
    g = gateway.start(workers, gateway.free_port(), policy="consistent_hash")
    try:
        with VllmClient(g.base_url, timeout=120, max_retries=0) as via:
            bare = [ask(via, s) for s in sessions]
            failed = [e for e in bare if not isinstance(e, str)]
            assert failed and all(ask(via, s) == "ok" for s in sessions)  # ejected by now
        for exc in failed:
            assert exc.status_code == 500 and exc.is_retryable and dead.url in str(exc)
        ch_attempts = g.log_text().count("Failed to send")
    finally:
        g.stop()
    g = gateway.start(workers, gateway.free_port(), policy="consistent_hash")
    try:
        retried: list[int] = []
        with VllmClient(g.base_url, timeout=120, on_retry=lambda n, *_: retried.append(n)) as via:
            assert [ask(via, s) for s in sessions] == ["ok"] * 16  # the client's default retries absorb them
    finally:
        g.stop()
    print(f"\n[gateway] dead server, round_robin: 0 of 8 failed, {rr_attempts} failed sends inside the gateway; "
          f"consistent_hash: {len(failed)} of 16 sessions failed without client retries "
          f"({ch_attempts} failed sends inside), 0 of 16 with the default retries ({len(retried)} retries)")
