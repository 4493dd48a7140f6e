"""Batch input lines: what is sent, what gets an error line, and why (pure)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from vllm_client.batch._lines import KNOWN_URLS, Invalid, Request, custom_id_of, is_blank, parse_line
from vllm_client.batch._seen import SeenIds


def line(**fields: object) -> bytes:
    base: dict[str, object] = {"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions",
                               "body": {"messages": [{"role": "user", "content": "hi"}]}}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


def test_a_valid_line_becomes_a_request_with_its_body() -> None:
    got = parse_line(line(), 7, 9)
    assert got == Request(7, "r1", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}, True)


def test_method_defaults_to_post_and_extra_keys_are_ignored() -> None:
    got = parse_line(line(method=..., extra="x"), 0, 1)
    assert isinstance(got, Request)


def test_every_known_url_is_accepted_and_tokenize_gets_no_model() -> None:
    for url, fill in KNOWN_URLS.items():
        got = parse_line(line(url=url, body={"input": "x"}), 0, 1)
        assert isinstance(got, Request) and got.fill_model is fill
    assert KNOWN_URLS["/tokenize"] is False and KNOWN_URLS["/v1/completions"] is True


def test_bad_lines_get_an_invalid_request_error_naming_the_line() -> None:
    cases = {
        b"not json": (None, "not valid JSON"),
        b"[1, 2]": (None, "not a JSON object"),
        line(custom_id=...): (None, "custom_id must be a non-empty string"),
        line(custom_id=""): (None, "custom_id must be a non-empty string"),
        line(custom_id=5): (None, "custom_id must be a non-empty string"),
        line(method="GET"): ("r1", "method must be POST"),
        line(url="/v1/audio/transcriptions"): ("r1", "unknown url"),
        line(url=...): ("r1", "unknown url"),
        line(body=...): ("r1", "body must be a JSON object"),
        line(body=[1]): ("r1", "body must be a JSON object"),
        line(body={"stream": True}): ("r1", "stream: true is not supported"),
    }
    for raw, (cid, words) in cases.items():
        got = parse_line(raw, 3, 12)
        assert isinstance(got, Invalid), raw
        assert got.code == "invalid_request" and got.seq == 3 and got.custom_id == cid
        assert words in got.message and "line 12" in got.message, (raw, got.message)


def test_stream_false_is_fine() -> None:
    assert isinstance(parse_line(line(body={"stream": False}), 0, 1), Request)


def test_blank_lines() -> None:
    assert is_blank(b"") and is_blank(b"  \t\r") and not is_blank(b" {}")


@given(st.binary(max_size=200))
def test_any_bytes_parse_to_a_request_or_an_invalid_never_an_exception(raw: bytes) -> None:
    assert isinstance(parse_line(raw, 0, 1), (Request, Invalid))
    custom_id_of(raw)


@given(st.lists(st.text(max_size=8), max_size=300))
def test_seen_ids_agree_with_a_set(ids: list[str]) -> None:
    seen, reference = SeenIds(), set()
    for cid in ids:
        assert seen.add(cid) is (cid not in reference)
        reference.add(cid)
    assert len(seen) == len(reference)
