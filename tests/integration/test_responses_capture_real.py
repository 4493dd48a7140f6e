"""The store-enabled Responses lifecycle of a REAL vLLM 0.32 (variant ``responses``), captured
raw: create, retrieve by id, a background create, an unknown id, cancel of a finished
response, a stream, a background stream and its replay with ``starting_after``. With
``VLLM_IT_CAPTURE=1`` the answers become the fixtures ``responses_store_*.json``; otherwise
the test asserts on the fresh answers only.

The ids are fixed with ``request_id`` (vLLM makes it the response id), so that a replay can
recreate the state a retrieve or cancel capture needs. A cancelled background stream is not
captured: vLLM never ends its replay (see test_responses_real.py).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from .capture import body_of, capture, json_of

if TYPE_CHECKING:
    from .conftest import RealServer

PATH = "/v1/responses"
BASE: dict[str, Any] = {"model": "tiny", "input": "Say hello.", "seed": 1}


def _events(fx: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in body_of(fx).decode().split("\n") if line.startswith("data: ")]


def _wait_finished(srv: RealServer, response_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with srv.client() as client:
        while True:
            r = client.responses.retrieve(response_id)
            if r.finished:
                return r.raw
            assert time.monotonic() < deadline, f"{response_id} still {r.status}"


def test_store_lifecycle_captures(vllm_responses: RealServer) -> None:
    srv = vllm_responses
    created = capture(srv, "responses_store_create", "POST", PATH,
                      body={**BASE, "max_output_tokens": 8, "store": True, "request_id": "resp_store_capture_1"})
    assert created["response"]["status"] == 200
    made = json_of(created)
    assert (made["id"], made["status"], made["output"][0]["type"]) == ("resp_store_capture_1", "incomplete", "message")

    got = capture(srv, "responses_store_retrieve", "GET", f"{PATH}/resp_store_capture_1")
    assert got["response"]["status"] == 200 and json_of(got) == made

    queued = capture(srv, "responses_store_background", "POST", PATH,
                     body={**BASE, "max_output_tokens": 8, "background": True, "request_id": "resp_store_capture_bg"})
    q = json_of(queued)
    assert queued["response"]["status"] == 200
    assert (q["status"], q["output"], q["usage"], q["background"]) == ("queued", [], None, True)
    assert _wait_finished(srv, q["id"])["usage"]["output_tokens"] == 8

    unknown = capture(srv, "responses_store_retrieve_unknown", "GET", f"{PATH}/resp_unknown")
    assert unknown["response"]["status"] == 404
    assert json_of(unknown)["error"]["message"] == "Response with id 'resp_unknown' not found."

    cancel = capture(srv, "responses_store_cancel_finished", "POST", f"{PATH}/resp_store_capture_1/cancel")
    assert cancel["response"]["status"] == 400
    assert "Cannot cancel a synchronous response" in json_of(cancel)["error"]["message"]

    stream = capture(srv, "responses_store_stream", "POST", PATH, body={**BASE, "max_output_tokens": 5, "stream": True})
    events = _events(stream)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert (events[0]["type"], events[-1]["type"]) == ("response.created", "response.completed")

    bg = capture(srv, "responses_store_background_stream", "POST", PATH,
                 body={**BASE, "max_output_tokens": 8, "background": True, "stream": True,
                       "request_id": "resp_store_capture_bgs"})
    bg_events = _events(bg)
    assert bg_events[-1]["type"] == "response.completed"
    assert bg_events[-1]["response"]["id"] == "resp_store_capture_bgs"

    replay = capture(srv, "responses_store_replay", "GET",
                     f"{PATH}/resp_store_capture_bgs?stream=true&starting_after=3")
    rest = _events(replay)
    assert [e["sequence_number"] for e in rest] == list(range(4, len(bg_events)))
    assert rest == bg_events[4:]
