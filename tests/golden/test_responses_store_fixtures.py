"""The store-enabled Responses lifecycle of a real vLLM 0.32 (variant ``responses``, captured
by tests/integration/test_responses_capture_real.py) decoded: the stored answer and its
retrieve into the same ``Response``, a background create as a queued one, the stream and the
background stream through the Responses decoder, the ``starting_after`` replay as the tail of
that background stream, and the two errors into the exceptions (and hints) vLLM's answers
map to."""

from __future__ import annotations

import json
from typing import Any

import pytest
from golden_fixtures import fixture_names, load_fixture, response_bytes, response_headers

from vllm_client import BadRequestError, NotFoundError, Response, ResponseEvent
from vllm_client._errors import error_from_response, hint_for
from vllm_client._protocol.responses_decoder import ResponsesStreamDecoder

STORE = [n for n in fixture_names() if n.startswith("responses_store_")]


def _response(name: str) -> Response:
    return Response(json.loads(response_bytes(load_fixture(name))))


def _decode(name: str, *, resumed: bool = False) -> tuple[list[Any], Response]:
    dec = ResponsesStreamDecoder(resumed=resumed)
    events = dec.feed(response_bytes(load_fixture(name)))
    dec.close()
    return events, dec.final()


def _texts(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, ResponseEvent.TextDelta))


def test_the_lifecycle_is_captured() -> None:
    assert sorted(f"responses_store_{n}" for n in (
        "background", "background_stream", "cancel_finished", "create", "replay", "retrieve",
        "retrieve_unknown", "stream")) == STORE
    assert {load_fixture(n)["server_variant"] for n in STORE} == {"responses"}


def test_create_and_retrieve_are_the_same_stored_response() -> None:
    made, got = _response("responses_store_create"), _response("responses_store_retrieve")
    assert made.raw == got.raw and load_fixture("responses_store_retrieve")["request"]["path"].endswith(made.id)
    assert (made.id, made.status, made.finished, made.background) == ("resp_store_capture_1", "incomplete", True, False)
    assert made.incomplete_details == {"reason": "max_output_tokens"}
    assert made.output_text == made.raw["output"][0]["content"][0]["text"] and made.output_text
    assert made.usage is not None and made.usage.output_tokens == 8 and made.usage.input_tokens > 0


def test_a_background_create_is_queued() -> None:
    r = _response("responses_store_background")
    assert (r.id, r.status, r.finished, r.background) == ("resp_store_capture_bg", "queued", False, True)
    assert (r.output, r.output_text, r.usage, r.tool_calls) == ([], "", None, [])


@pytest.mark.parametrize("name", ["responses_store_stream", "responses_store_background_stream"])
def test_streams_decode(name: str) -> None:
    fx = load_fixture(name)
    assert response_headers(fx)["content-type"].startswith("text/event-stream")
    events, final = _decode(name)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert isinstance(events[0], ResponseEvent.Created) and isinstance(events[-1], ResponseEvent.Completed)
    assert not [e for e in events if isinstance(e, ResponseEvent.Other)], "every vLLM event type is modelled"
    assert final.raw == events[-1].response.raw and final.output_text == _texts(events)
    assert final.background == (name == "responses_store_background_stream")
    assert final.usage is not None and final.usage.output_tokens == json.loads(fx["request"]["body"])["max_output_tokens"]


def test_the_replay_is_the_tail_of_the_background_stream() -> None:
    whole, final = _decode("responses_store_background_stream")
    tail, resumed = _decode("responses_store_replay", resumed=True)
    assert load_fixture("responses_store_replay")["request"]["path"].endswith("?stream=true&starting_after=3")
    assert [e.sequence_number for e in tail] == list(range(4, len(whole)))
    assert [e.raw for e in tail] == [e.raw for e in whole[4:]]
    assert resumed.raw == final.raw and resumed.id == "resp_store_capture_bgs"
    assert _texts(whole[:4]) + _texts(tail) == final.output_text


def _error(name: str) -> tuple[Any, str | None]:
    fx = load_fixture(name)
    err = error_from_response(fx["response"]["status"], response_headers(fx), response_bytes(fx))
    hint = hint_for(err, fx["request"]["method"], "http://127.0.0.1:8000" + fx["request"]["path"], sent_api_key=False)
    return err, hint


def test_an_unknown_id_is_not_found() -> None:
    err, hint = _error("responses_store_retrieve_unknown")
    assert isinstance(err, NotFoundError) and err.status_code == 404 and err.param == "response_id"
    assert err.message == "Response with id 'resp_unknown' not found." and err.error_type == "invalid_request_error"
    assert hint is not None and "VLLM_ENABLE_RESPONSES_API_STORE=1" in hint


def test_cancelling_a_finished_response_is_refused() -> None:
    err, hint = _error("responses_store_cancel_finished")
    assert isinstance(err, BadRequestError) and err.status_code == 400 and err.param == "response_id"
    assert err.message == "Cannot cancel a synchronous response." and not err.is_retryable
    assert hint == "only a background=True response that is still queued or in progress can be cancelled"
