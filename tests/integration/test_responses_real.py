"""The Responses API against a REAL vLLM 0.32 server started with
``VLLM_ENABLE_RESPONSES_API_STORE=1`` (variant ``responses``), sync and async: create,
stream, close and cancel mid-stream, the background lifecycle, replay with
``starting_after``, ``previous_response_id``, vLLM's errors; then the same server without
the store (variant ``plain``) for the errors a store-only feature meets there.

The model is a tiny random-weight Qwen2: its text is noise, so the assertions are on protocol
facts (statuses, sequence numbers, ids, token counts, what the deltas add up to) and on what
a seed makes repeatable. ``test_emulator_answers_as_the_real_server`` runs the same calls
against MockVllmServer(responses_store=True) and compares the shapes, so the emulator stays
what these tests observed.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from vllm_client import (
    BadRequestError,
    NotFoundError,
    Response,
    ResponseEvent,
    StreamError,
    StreamTimeoutError,
    Timeout,
    VllmClient,
)
from vllm_client.testing import MockVllmServer

if TYPE_CHECKING:
    from .conftest import RealServer

LONG = {"max_output_tokens": 1500, "ignore_eos": True}  # a few seconds on the CPU: time to cancel
RACES = 4  # runs a cancel test may try before it must have caught one still running


def nxt(api: Any, stream: Any) -> Any:
    return api(stream.__anext__()) if api.kind == "async" else next(stream)


def take(api: Any, stream: Any, n: int) -> list[Any]:
    return [nxt(api, stream) for _ in range(n)]


def deltas(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, ResponseEvent.TextDelta))


def poll(api: Any, response_id: str, done: Callable[[Response], bool], timeout: float = 120.0) -> list[str]:
    """Retrieve until ``done``; the statuses seen, in order (no repeats)."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        r = api(api.client.responses.retrieve(response_id))
        if not seen or seen[-1] != r.status:
            seen.append(r.status)
        if done(r):
            return seen
        assert time.monotonic() < deadline, f"still {r.status} after {timeout}s"


def running(server: RealServer) -> float:
    """Requests the engine is running now (``vllm:num_requests_running``)."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("vllm:num_requests_running"):
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no vllm:num_requests_running in /metrics")


def wait_idle(server: RealServer, timeout: float = 60.0) -> None:
    """Poll until the engine runs nothing (an earlier test's run may still be ending)."""
    deadline = time.monotonic() + timeout
    while running(server):
        assert time.monotonic() < deadline, f"the engine still runs requests after {timeout}s"


@pytest.fixture
def api(make_api: Any, vllm_responses: RealServer) -> Any:
    wait_idle(vllm_responses)
    return make_api(vllm_responses.base_url, timeout=120)


# --- the store server ---------------------------------------------------------------------------


def test_create(api: Any) -> None:
    r = api(api.client.responses.create(input="Say hello.", max_output_tokens=8, seed=1, top_k=20, min_p=0.05,
                                        repetition_penalty=1.1, instructions="Be brief."))
    assert r.object == "response" and r.id.startswith("resp_") and r.model == "tiny"
    assert r.status == "incomplete" and r.incomplete_details == {"reason": "max_output_tokens"} and r.finished
    assert [i.type for i in r.output] == ["message"] and r.output_text == r.output[0].text  # type: ignore[attr-defined]
    assert r.reasoning is None and r.tool_calls == [] and r.raw["instructions"] == "Be brief."
    assert r.usage is not None and r.usage.output_tokens == 8 and r.usage.input_tokens > 0
    assert r.timing is not None and r.timing.total_s > 0
    again = api(api.client.responses.create(input="Say hello.", max_output_tokens=8, seed=1, top_k=20, min_p=0.05,
                                            repetition_penalty=1.1, instructions="Be brief."))
    assert again.output_text == r.output_text and again.id != r.id  # the seed repeats it
    stored = api(api.client.responses.retrieve(r.id))
    assert stored.raw == r.raw  # store=True (the default) kept it


def test_request_id_becomes_the_response_id(api: Any) -> None:
    rid = f"it-{time.monotonic_ns()}"
    r = api(api.client.responses.create(input="Hi", max_output_tokens=2, request_id=rid))
    assert r.id == rid and api(api.client.responses.retrieve(rid)).id == rid


def test_stream_equals_the_answer(api: Any) -> None:
    stream = api(api.client.responses.create(input="Say hello.", max_output_tokens=6, seed=4, stream=True))
    events = api.events(stream)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert isinstance(events[0], ResponseEvent.Created) and isinstance(events[-1], ResponseEvent.Completed)
    assert not [e for e in events if isinstance(e, ResponseEvent.Other)]
    final = api(stream.final())
    assert final.raw == events[-1].response.raw and final.output_text == deltas(events)
    plain = api(api.client.responses.create(input="Say hello.", max_output_tokens=6, seed=4))
    assert plain.output_text == final.output_text and plain.status == final.status
    assert stream.metrics.ttft_s is not None and stream.metrics.completion_tokens == 6
    assert stream.metrics.chunks == len(events)
    assert api(api.client.responses.retrieve(final.id)).raw == final.raw  # stored once complete


def test_closing_a_stream_leaves_the_connection_usable(api: Any) -> None:
    stream = api(api.client.responses.create(input="long", stream=True, **LONG))
    got = take(api, stream, 8)
    api(stream.close())
    partial = api(stream.final())
    # (the decoder may have read past the events taken: what one socket read held)
    assert partial.status == "in_progress" and partial.output_text.startswith(deltas(got))
    r = api(api.client.responses.create(input="Hi", max_output_tokens=2))
    assert r.usage is not None and r.usage.output_tokens == 2


def test_background_lifecycle(api: Any) -> None:
    r = api(api.client.responses.create(input="Say hello.", max_output_tokens=40, background=True))
    assert (r.status, r.output, r.usage, r.background) == ("queued", [], None, True)
    statuses = poll(api, r.id, lambda x: x.finished)
    # (a fast machine may finish the 40 tokens before the first poll: then only the end is seen)
    assert statuses[-1] == "incomplete" and set(statuses) <= {"queued", "incomplete"}
    done = api(api.client.responses.retrieve(r.id))
    assert done.usage is not None and done.usage.output_tokens == 40 and done.output_text
    with pytest.raises(BadRequestError, match="Cannot cancel a synchronous response") as info:
        api(api.client.responses.cancel(r.id))
    assert info.value.hint is not None and "queued or in progress" in info.value.hint


def lost_race(api: Any, response_id: str) -> None:
    """A cancel that came after the run ended: check it did end, whole (so the 400 or the
    whole answer was right), before trying another run."""
    done = api(api.client.responses.retrieve(response_id))
    assert done.status == "incomplete" and done.usage is not None
    assert done.usage.output_tokens == LONG["max_output_tokens"]


def test_cancel_a_running_background_response(api: Any) -> None:
    # vLLM only cancels a run still going; seen in CI: a stalled moment of the server let a
    # whole LONG run end before the cancel was read (then 400 "Cannot cancel a synchronous
    # response.", which is right). Such a lost race is checked, and another run tried.
    for _ in range(RACES):
        r = api(api.client.responses.create(input="long", background=True, **LONG))
        try:
            cancelled = api(api.client.responses.cancel(r.id))
            break
        except BadRequestError as exc:
            assert "Cannot cancel a synchronous response" in str(exc)
            lost_race(api, r.id)
    else:
        pytest.fail(f"every one of {RACES} LONG runs ended before its cancel was read")
    assert (cancelled.id, cancelled.status, cancelled.output) == (r.id, "cancelled", [])
    assert api(api.client.responses.retrieve(r.id)).status == "cancelled"
    with pytest.raises(BadRequestError):
        api(api.client.responses.cancel(r.id))


def test_background_stream_resumes_after_a_disconnect(api: Any) -> None:
    # ignore_eos: random weights may end early otherwise, and the count below is exact
    stream = api(api.client.responses.create(input="Say hello.", max_output_tokens=40, background=True, stream=True,
                                             ignore_eos=True))
    first = take(api, stream, 6)
    api(stream.close())  # a background run goes on without its client
    assert stream.last_sequence_number == 5 and stream.response_id is not None
    replay = api(api.client.responses.retrieve(stream.response_id, stream=True,
                                               starting_after=stream.last_sequence_number))
    rest = api.events(replay)
    assert [e.sequence_number for e in rest] == list(range(6, 6 + len(rest)))
    final = api(replay.final())
    assert isinstance(rest[-1], ResponseEvent.Completed) and final.output_text == deltas(first) + deltas(rest)
    assert final.usage is not None and final.usage.output_tokens == 40
    assert api(api.client.responses.retrieve(final.id)).raw == final.raw
    whole = api.events(api(api.client.responses.retrieve(final.id, stream=True)))
    assert [e.sequence_number for e in whole] == list(range(len(first) + len(rest)))


def test_stream_cancel_stops_a_background_run(api: Any) -> None:
    for _ in range(RACES):  # see test_cancel_a_running_background_response
        stream = api(api.client.responses.create(input="long", background=True, stream=True, **LONG))
        got = take(api, stream, 6)
        result = api(stream.cancel())
        if result.status == "cancelled":
            break
        lost_race(api, result.id)  # stream.cancel() then returns the stored, whole answer
        assert result.raw == api(api.client.responses.retrieve(result.id)).raw
    else:
        pytest.fail(f"every one of {RACES} LONG runs ended before its cancel was read")
    assert result.output_text.startswith(deltas(got))
    assert api(api.client.responses.retrieve(result.id)).status == "cancelled"
    # vLLM never ends the replay of a cancelled response (no response.completed comes).
    replay = api(api.client.responses.retrieve(result.id, stream=True, timeout=Timeout(idle=1.0)))
    with pytest.raises(StreamTimeoutError):
        api.events(replay)


def test_replay_of_a_foreground_response_is_refused_plainly(api: Any) -> None:
    r = api(api.client.responses.create(input="Hi", max_output_tokens=2))
    with pytest.raises(StreamError, match="background=True and stream=True") as info:
        api.events(api(api.client.responses.retrieve(r.id, stream=True)))
    assert not info.value.is_retryable


def test_previous_response_id(api: Any) -> None:
    first = api(api.client.responses.create(input="My name is Ada.", max_output_tokens=6))
    follow = api(api.client.responses.create(input="What is my name?", max_output_tokens=4,
                                             previous_response_id=first.id))
    fresh = api(api.client.responses.create(input="What is my name?", max_output_tokens=4))
    assert follow.previous_response_id == first.id
    assert follow.usage is not None and fresh.usage is not None
    assert follow.usage.input_tokens > fresh.usage.input_tokens  # the first turn is in the prompt
    with pytest.raises(NotFoundError, match="resp_unknown"):
        api(api.client.responses.create(input="x", previous_response_id="resp_unknown"))


def test_unknown_ids_and_store_false(api: Any) -> None:
    for call in (lambda: api.client.responses.retrieve("resp_unknown"),
                 lambda: api.client.responses.cancel("resp_unknown")):
        with pytest.raises(NotFoundError, match="Response with id 'resp_unknown' not found") as info:
            api(call())
        assert info.value.param == "response_id" and info.value.hint is not None
    r = api(api.client.responses.create(input="Hi", max_output_tokens=2, store=False))
    with pytest.raises(NotFoundError):
        api(api.client.responses.retrieve(r.id))


# --- the emulator against what this server answers -------------------------------------------------


def _shape(value: Any) -> Any:
    """Keys all the way down (lists by their first element); leaves by JSON kind only."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return None


def _runs(items: list[Any]) -> list[Any]:
    """Consecutive repeats collapsed: how many deltas carry the tokens is the detokenizer's business."""
    return [x for i, x in enumerate(items) if i == 0 or items[i - 1] != x]


def _raw(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    host, port = base.removeprefix("http://").split("/")[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"content-type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if data else None
    finally:
        conn.close()


def _observe(base_url: str) -> dict[str, Any]:
    """The calls whose answers the emulator must shape as vLLM does."""
    seen: dict[str, Any] = {}
    with VllmClient(base_url, timeout=120) as client:
        r = client.responses.create(input="Say hello.", max_output_tokens=5, model="tiny")
        seen["create"] = _shape(r.raw)
        with client.responses.create(input="Say hello.", max_output_tokens=4, model="tiny", stream=True) as s:
            seen["stream"] = _runs([(e.type, _shape(e.raw)) for e in s])
        for _ in range(RACES):  # see test_cancel_a_running_background_response
            q = client.responses.create(input="long", background=True, model="tiny", **LONG)
            try:
                c = client.responses.cancel(q.id)
                break
            except BadRequestError:
                assert client.responses.retrieve(q.id).status == "incomplete"
        else:
            pytest.fail(f"every one of {RACES} LONG runs ended before its cancel was read")
        seen["queued"] = (_shape(q.raw), q.status, q.output, q.usage)
        seen["cancelled"] = (_shape(c.raw), c.status)
        b = client.responses.create(input="Hi", max_output_tokens=3, background=True, stream=True, model="tiny")
        with b:
            events = list(b)
            seen["background_stream"] = _runs([e.type for e in events])
        with client.responses.retrieve(b.response_id or "", stream=True, starting_after=3) as replay:
            seqs = [e.sequence_number for e in replay]
            seen["replay"] = (seqs == list(range(4, len(events))), replay.final().raw == events[-1].response.raw)
    for name, (method, path, body) in {
        "unknown": ("GET", "/v1/responses/resp_unknown", None),
        "cancel_finished": ("POST", f"/v1/responses/{r.id}/cancel", None),
        "bad_stream_query": ("GET", f"/v1/responses/{r.id}?stream=maybe", None),
        "bad_starting_after": ("GET", f"/v1/responses/{r.id}?stream=true&starting_after=x", None),
        "background_store_false": ("POST", "/v1/responses", {"input": "x", "background": True, "store": False}),
        "delete": ("DELETE", f"/v1/responses/{r.id}", None),
    }.items():
        seen[name] = _raw(base_url, method, path, body)
    return seen


def test_emulator_answers_as_the_real_server(vllm_responses: RealServer) -> None:
    real = _observe(vllm_responses.base_url)
    with MockVllmServer(model="tiny", tool_parser=None, responses_store=True) as mock:
        mock.token_rate = 300  # the LONG run must still be running when it is cancelled
        emulated = _observe(mock.base_url)
    assert emulated.keys() == real.keys()
    for name in real:
        assert emulated[name] == real[name], name


# --- a server without the store ---------------------------------------------------------------------


def test_without_the_store_the_errors_name_the_flag(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        r = client.responses.create(input="Hi", max_output_tokens=2)  # store=True is silently ignored
        with pytest.raises(NotFoundError) as info:
            client.responses.retrieve(r.id)
        assert info.value.hint is not None and "VLLM_ENABLE_RESPONSES_API_STORE=1" in info.value.hint
        assert "VLLM_ENABLE_RESPONSES_API_STORE=1" in str(info.value)
        with pytest.raises(BadRequestError, match="VLLM_ENABLE_RESPONSES_API_STORE=1") as bg:
            client.responses.create(input="Hi", background=True)
        assert bg.value.param == "background"
        for call in (lambda: client.responses.cancel(r.id),
                     lambda: client.responses.create(input="Hi", previous_response_id=r.id)):
            with pytest.raises(NotFoundError, match="not found"):
                call()
