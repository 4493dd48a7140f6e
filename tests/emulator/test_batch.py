"""run_batch against the emulator, with the sync and the async client: output lines exactly
as documented, every error kind, resume, refusals, the errors file, order, .gz."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
from batch_helpers import chat_line, check_shape, read_output, run, write_input

from vllm_client.batch import BatchLockedError
from vllm_client.testing import Delay, DropConnection, HtmlError, HttpError, MockVllmServer


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_every_line_gets_its_answer_in_input_order_with_the_servers_body(
        kind: str, vllm_mock: MockVllmServer, tmp_path: Path) -> None:
    inp = write_input(tmp_path / "in.jsonl", [chat_line(f"r{i}") for i in range(40)] + [
        "", {"custom_id": "e1", "url": "/v1/embeddings", "body": {"input": "hello"}},
        {"custom_id": "t1", "url": "/tokenize", "body": {"prompt": "hello"}},
        {"custom_id": "c1", "url": "/v1/completions", "body": {"prompt": "hello", "max_tokens": 3}},
    ])
    summary = run(kind, vllm_mock.base_url, inp, tmp_path / "out.jsonl", concurrency=8)
    records = read_output(tmp_path / "out.jsonl")
    assert [r["custom_id"] for r in records] == [f"r{i}" for i in range(40)] + ["e1", "t1", "c1"]
    for r in records:
        check_shape(r)
        assert r["response"]["status_code"] == 200
    assert records[0]["response"]["body"]["object"] == "chat.completion"
    assert records[40]["response"]["body"]["object"] == "list"
    assert records[41]["response"]["body"]["count"] >= 1
    assert records[42]["response"]["body"]["object"] == "text_completion"
    sent = {r.headers["x-request-id"]: r for r in vllm_mock.requests_to("/v1/chat/completions")}
    assert records[0]["response"]["request_id"] in sent  # the id we sent, as vLLM echoes it
    assert sent[records[0]["response"]["request_id"]].json["model"] == "mock-model"  # served model filled in
    assert "model" not in vllm_mock.requests_to("/tokenize")[0].json
    assert (summary.total, summary.succeeded, summary.failed, summary.invalid, summary.skipped) == (43, 43, 0, 0, 0)
    assert summary.prompt_tokens > 0 and summary.completion_tokens == 40 * 4 + 3
    assert summary.latency_p50_s is not None and summary.latency_p95_s is not None and summary.complete


def test_the_body_bytes_are_spliced_in_as_the_server_sent_them(kind: str, vllm_mock: MockVllmServer,
                                                               tmp_path: Path) -> None:
    from vllm_client.testing import RawResponse

    body = b'{"id":"x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2},"v":1.50}'
    vllm_mock.queue_reply(RawResponse(200, {"content-type": "application/json"}, body), path="/v1/chat/completions")
    inp = write_input(tmp_path / "in.jsonl", [chat_line("r0")])
    run(kind, vllm_mock.base_url, inp, tmp_path / "out.jsonl")
    assert b'"body":' + body + b'},"error":null}\n' in (tmp_path / "out.jsonl").read_bytes()


def test_server_errors_keep_status_and_body_and_failures_without_an_answer_get_a_code(
        kind: str, vllm_mock: MockVllmServer, tmp_path: Path) -> None:
    # Faults go to requests in order (concurrency=1: line by line); Delay(0) is a normal answer.
    vllm_mock.add_fault(HttpError(503, retry_after=0))  # r0: retried,
    vllm_mock.add_fault(Delay(0))  # then fine
    vllm_mock.add_fault(HttpError(400, "This model's maximum context length is 2048 tokens"))  # r1
    vllm_mock.add_fault(DropConnection(), times=3)  # r2: every attempt dropped
    vllm_mock.add_fault(HtmlError(502), times=3)  # r3: a proxy's page, after retries
    inp = write_input(tmp_path / "in.jsonl", [chat_line(f"r{i}") for i in range(5)])
    summary = run(kind, vllm_mock.base_url, inp, tmp_path / "out.jsonl", concurrency=1, max_retries=2)
    r = {rec["custom_id"]: rec for rec in read_output(tmp_path / "out.jsonl")}
    for rec in r.values():
        check_shape(rec)
    assert r["r0"]["response"]["status_code"] == 200
    assert r["r1"]["response"]["status_code"] == 400 and r["r1"]["error"] is None
    assert r["r1"]["response"]["body"]["error"]["message"].startswith("This model's maximum context length")
    assert r["r2"]["response"] is None and r["r2"]["error"]["code"] == "connection_error"
    assert r["r3"]["response"]["status_code"] == 502 and "Bad Gateway" in r["r3"]["response"]["body"]["error"]["message"]
    assert r["r4"]["response"]["status_code"] == 200
    assert summary.failed_by_kind == {"connection_error": 1, "http_400": 1, "http_502": 1}
    assert (summary.succeeded, summary.failed) == (2, 3)


def test_a_line_slower_than_the_timeout_gets_a_timeout_error_and_the_rest_go_on(
        kind: str, vllm_mock: MockVllmServer, tmp_path: Path) -> None:
    vllm_mock.add_fault(Delay(3.0))
    inp = write_input(tmp_path / "in.jsonl", [chat_line(f"r{i}") for i in range(4)])
    summary = run(kind, vllm_mock.base_url, inp, tmp_path / "out.jsonl", concurrency=2, timeout=0.5)
    records = read_output(tmp_path / "out.jsonl")
    assert [r["custom_id"] for r in records] == ["r0", "r1", "r2", "r3"]
    slow = [r for r in records if r["error"] is not None]
    assert len(slow) == 1 and slow[0]["error"]["code"] == "timeout" and "0.5" in slow[0]["error"]["message"]
    assert summary.failed_by_kind == {"timeout": 1} and summary.succeeded == 3


def test_bad_lines_never_stop_the_run_and_are_counted(kind: str, vllm_mock: MockVllmServer, tmp_path: Path) -> None:
    inp = write_input(tmp_path / "in.jsonl", [
        chat_line("a"), "{not json", {"method": "POST", "url": "/v1/chat/completions", "body": {}},
        chat_line("a"), {"custom_id": "u", "url": "/v1/unknown", "body": {}}, chat_line("s", stream=True),
        {"custom_id": "g", "method": "GET", "url": "/v1/completions", "body": {}}, chat_line("b"),
    ])
    summary = run(kind, vllm_mock.base_url, inp, tmp_path / "out.jsonl")
    records = read_output(tmp_path / "out.jsonl")
    assert [r["custom_id"] for r in records] == ["a", None, None, "a", "u", "s", "g", "b"]
    codes = [r["error"]["code"] if r["error"] else None for r in records]
    assert codes == [None, "invalid_request", "invalid_request", "duplicate_custom_id", "invalid_request",
                     "invalid_request", "invalid_request", None]
    assert "line 2" in records[1]["error"]["message"] and "line 4" in records[3]["error"]["message"]
    assert (summary.invalid, summary.succeeded, summary.total) == (6, 2, 8)
    assert len(vllm_mock.requests_to("/v1/chat/completions")) == 2


def test_a_rerun_skips_what_is_done_and_repairs_a_torn_last_line(kind: str, vllm_mock: MockVllmServer,
                                                                  tmp_path: Path) -> None:
    inp = write_input(tmp_path / "in.jsonl", [chat_line(f"r{i}") for i in range(10)])
    out = tmp_path / "out.jsonl"
    run(kind, vllm_mock.base_url, inp, out)
    data = out.read_bytes()
    lines = data.splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:6]) + lines[6][:25])  # a kill -9 in the middle of line 7
    vllm_mock.clear_requests()
    summary = run(kind, vllm_mock.base_url, inp, out)
    assert (summary.skipped, summary.succeeded) == (6, 4)
    assert len(vllm_mock.requests_to("/v1/chat/completions")) == 4  # done lines are not sent again
    records = read_output(out)
    assert [r["custom_id"] for r in records] == [f"r{i}" for i in range(10)]
    assert records[:6] == [json.loads(line) for line in lines[:6]]


def test_refusals_before_anything_is_sent(kind: str, vllm_mock: MockVllmServer, tmp_path: Path) -> None:
    inp = write_input(tmp_path / "in.jsonl", [chat_line("r0")])
    out = tmp_path / "out.jsonl"
    run(kind, vllm_mock.base_url, inp, out)
    other = write_input(tmp_path / "other.jsonl", [chat_line("x0"), chat_line("x1")])
    with pytest.raises(FileExistsError, match="different input"):
        run(kind, vllm_mock.base_url, other, out)
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text("keep me\n")
    with pytest.raises(FileExistsError, match="not written by vllm-client"):
        run(kind, vllm_mock.base_url, inp, foreign)
    assert foreign.read_text() == "keep me\n"
    with pytest.raises(ValueError, match="not JSONL"):
        run(kind, vllm_mock.base_url, write_input(tmp_path / "csv.jsonl", ["a,b,c"]), tmp_path / "o2.jsonl")
    with pytest.raises(OSError, match="cannot write"):
        run(kind, vllm_mock.base_url, inp, tmp_path / "missing-dir" / "out.jsonl")
    with open(str(out) + ".manifest.json", "rb+") as held:  # another run holds the lock
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(BatchLockedError, match="another batch run"):
            run(kind, vllm_mock.base_url, inp, out)
    vllm_mock.clear_requests()
    summary = run(kind, vllm_mock.base_url, other, out, overwrite=True)
    assert summary.succeeded == 2 and [r["custom_id"] for r in read_output(out)] == ["x0", "x1"]
    assert len(vllm_mock.requests_to("/v1/chat/completions")) == 2  # the refused runs sent nothing


def test_errors_file_unordered_gz_and_retry_failed(kind: str, vllm_mock: MockVllmServer, tmp_path: Path) -> None:
    inp = write_input(tmp_path / "in.jsonl.gz", [chat_line(f"r{i}") for i in range(12)] + ["oops"])
    out, err = tmp_path / "out.jsonl.gz", tmp_path / "err.jsonl"
    vllm_mock.add_fault(HttpError(400, "rejected"), times=3)
    summary = run(kind, vllm_mock.base_url, inp, out, errors_path=err, concurrency=1, max_retries=0)
    good, bad = read_output(out), read_output(err)
    assert [r["custom_id"] for r in good] == [f"r{i}" for i in range(3, 12)]
    assert [r["custom_id"] for r in bad] == ["r0", "r1", "r2", None]
    assert (summary.succeeded, summary.failed, summary.invalid) == (9, 3, 1)
    vllm_mock.clear_requests()
    summary = run(kind, vllm_mock.base_url, inp, out, errors_path=err, retry_failed=True)
    assert (summary.succeeded, summary.invalid, summary.skipped) == (3, 1, 9)
    assert len(vllm_mock.requests_to("/v1/chat/completions")) == 3  # only the failed ones
    assert [r["custom_id"] for r in read_output(out)] == [f"r{i}" for i in range(12)]  # back in order
    assert [r["custom_id"] for r in read_output(err)] == [None]
    unordered = tmp_path / "unordered.jsonl"
    vllm_mock.add_fault(Delay(0.3))  # the first line finishes last
    run(kind, vllm_mock.base_url, inp, unordered, ordered=False, concurrency=4)
    ids = [r["custom_id"] for r in read_output(unordered)]
    assert sorted(ids, key=str) == sorted([f"r{i}" for i in range(12)] + [None], key=str) and ids[0] != "r0"


def test_model_keyword_fills_lines_without_one_and_max_rate_paces(kind: str, tmp_path: Path) -> None:
    with MockVllmServer(models=["a", "b"]) as server:
        inp = write_input(tmp_path / "in.jsonl", [chat_line("r0"), chat_line("r1", model="a")])
        run(kind, server.base_url, inp, tmp_path / "out.jsonl", model="b", max_rate=20)
        assert [r.json["model"] for r in server.requests_to("/v1/chat/completions")] == ["b", "a"]
        with pytest.raises(ValueError, match="serves 2 models"):
            run(kind, server.base_url, write_input(tmp_path / "in2.jsonl", [chat_line("x")]), tmp_path / "o2.jsonl")


def test_the_cli_runs_resumes_and_reports(vllm_mock: MockVllmServer, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vllm_client.cli import get_app

    inp = write_input(tmp_path / "in.jsonl", [chat_line(f"r{i}") for i in range(5)])
    out = tmp_path / "out.jsonl"
    args = ["batch", str(inp), str(out), "--base-url", vllm_mock.url, "-c", "2"]
    result = CliRunner().invoke(get_app(), args)
    assert result.exit_code == 0, result.output
    assert "5 succeeded" in result.stderr and len(read_output(out)) == 5
    result = CliRunner().invoke(get_app(), args)
    assert result.exit_code == 0 and "5 skipped" in result.stderr
    other = write_input(tmp_path / "other.jsonl", [chat_line("z")])
    result = CliRunner().invoke(get_app(), ["batch", str(other), str(out), "--base-url", vllm_mock.url])
    assert result.exit_code == 1 and "different input" in result.stderr and "--overwrite" in result.stderr
    result = CliRunner().invoke(get_app(), ["batch", str(other), str(out), "--base-url", vllm_mock.url, "-q",
                                            "--overwrite"])
    assert result.exit_code == 0 and result.stderr == "" and len(read_output(out)) == 1


def test_output_files_are_not_left_behind_by_a_refused_run(vllm_mock: MockVllmServer, tmp_path: Path) -> None:
    inp = write_input(tmp_path / "csv.jsonl", ["a,b"])
    with pytest.raises(ValueError):
        run("sync", vllm_mock.base_url, inp, tmp_path / "out.jsonl")
    assert os.listdir(tmp_path) == ["csv.jsonl"]
