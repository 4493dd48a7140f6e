"""The pure parts of bench: arrival schedules, the job source, per-request formulas on
hand-made timelines, goodput, error kinds, the audit verdict, /metrics deltas, result keys."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_client._dispatch.schedule import DispatchTimeout, Scheduler
from vllm_client._errors import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    StreamError,
    StreamTimeoutError,
)
from vllm_client.bench import BenchConfig, Load, Workload, parse_slo
from vllm_client.bench._audit import verdict
from vllm_client.bench._errors import classify, truncation
from vllm_client.bench._metrics import compute, good, latency_keys, peak_in_flight
from vllm_client.bench._records import RequestRecord, per_token_gaps
from vllm_client.bench._result import build_result
from vllm_client.bench._schedule import arrival_offsets, ramp_inverse
from vllm_client.bench._server_metrics import summarize, total
from vllm_client.bench._source import Source
from vllm_client.bench._workloads import Prompt, draw_lengths

# -- schedules ------------------------------------------------------------------------------


def _gaps(rate: float, b: float, n: int, seed: int = 0) -> list[float]:
    times = list(itertools.islice(arrival_offsets(rate, b, random.Random(seed)), n))
    assert times == sorted(times)
    return [b2 - a for a, b2 in itertools.pairwise([0.0, *times])]


@settings(max_examples=25, deadline=None)
@given(st.floats(0.5, 200), st.sampled_from([0.25, 0.5, 1.0, 2.0, 8.0]), st.integers(0, 10_000))
def test_gaps_have_the_asked_mean_rate_and_burstiness(rate: float, b: float, seed: int) -> None:
    gaps = _gaps(rate, b, 6000, seed)
    mean = statistics.fmean(gaps)
    cv = statistics.pstdev(gaps) / mean
    assert mean == pytest.approx(1 / rate, rel=0.12)
    assert cv == pytest.approx(1 / math.sqrt(b), rel=0.15)  # gamma(shape b): CV = 1/sqrt(b)


def test_constant_rate_is_evenly_spaced_from_zero_and_inf_rate_is_all_at_once() -> None:
    times = list(itertools.islice(arrival_offsets(4.0, math.inf, random.Random(0)), 5))
    assert times == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    assert list(itertools.islice(arrival_offsets(math.inf, 1.0, random.Random(0)), 3)) == [0.0, 0.0, 0.0]


def test_same_seed_same_schedule() -> None:
    assert _gaps(10, 0.5, 100, seed=3) == _gaps(10, 0.5, 100, seed=3) != _gaps(10, 0.5, 100, seed=4)


def test_ramp_up_follows_the_linear_rate() -> None:
    # rate rises 0 -> 10/s over 10 s: arrivals by time t are 0.5 * t^2 (integral of t), then 10/s
    times = list(itertools.islice(arrival_offsets(10.0, math.inf, random.Random(0), ramp=10.0), 200))

    def by(t: float) -> int:
        return sum(1 for x in times if x <= t)

    assert by(4.0) == pytest.approx(0.5 * 16 + 1, abs=1)
    assert by(10.0) == pytest.approx(50 + 1, abs=1)
    assert by(12.0) - by(10.0) == pytest.approx(20, abs=1)
    assert ramp_inverse(50.0, 10.0, 0.0, 10.0) == pytest.approx(10.0)
    assert ramp_inverse(5.0, 10.0, 10.0, 10.0) == pytest.approx(0.5)  # no slope: plain rate


# -- the scheduler's ready time ---------------------------------------------------------------


def test_ready_time_separates_cap_queueing_from_loop_lateness() -> None:
    s = Scheduler(1)
    t0 = s.start(0, 1.0, 1.0)  # due at 1.0, started on time
    assert (t0.scheduled, t0.ready, t0.start) == (1.0, 1.0, 1.0)
    s.finish(0, at=3.0)  # the only slot frees at 3.0
    t1 = s.start(1, 2.0, 3.5)  # due at 2.0, the loop started it at 3.5
    assert t1.scheduled == 2.0 and t1.ready == 3.0 and t1.start == 3.5  # 1.0 s queued, 0.5 s late


# -- the job source -----------------------------------------------------------------------------


def _prompts(n: int) -> list[Prompt]:
    return [Prompt(text=f"p{i}", output_tokens=4) for i in range(n)]


def test_open_loop_source_issues_n_jobs_at_the_arrival_times() -> None:
    src = Source(_prompts(3), limit=5, duration=None, users=None,
                 arrivals=iter([0.0, 0.5, 1.0, 1.5, 2.0, 2.5]))
    jobs = list(src)
    assert [j.index for j in jobs] == [0, 1, 2, 3, 4]
    assert [j.send_at for j in jobs] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert [j.prompt.text for j in jobs] == ["p0", "p1", "p2", "p0", "p1"]  # cycled


def test_open_loop_duration_stops_at_the_first_arrival_past_it() -> None:
    src = Source(_prompts(3), limit=None, duration=1.2, users=None, arrivals=iter([0.0, 0.5, 1.0, 1.5, 2.0]))
    assert [j.send_at for j in src] == [0.0, 0.5, 1.0]


def test_closed_loop_users_send_again_when_answered_and_a_requeued_job_keeps_its_index() -> None:
    src = Source(_prompts(2), limit=4, duration=None, users=2, arrivals=None)
    a, b = next(src), next(src)
    assert (a.index, b.index, a.send_at, b.send_at) == (0, 1, 0.0, 0.0)
    assert not src.gate()  # both users busy: nothing to pull
    src.answered(a, 0.7, "x", True)
    c = next(src)
    assert (c.index, c.send_at, c.user) == (2, 0.7, a.user)
    src.requeue(c)
    again = next(src)
    assert again is c and again.index == 2
    src.answered(b, 0.9, "x", True)
    d = next(src)
    assert d.index == 3
    src.answered(c, 1.0, "x", True)
    with pytest.raises(StopIteration):
        next(src)  # limit reached


def test_multi_turn_history_grows_and_think_time_delays_the_next_turn() -> None:
    texts = [Prompt(text=f"u{i}", output_tokens=4) for i in range(10)]
    src = Source([], limit=None, duration=None, users=1, arrivals=None, turns=3, turn_texts=texts, think_time=2.0)
    t0 = next(src)
    assert (t0.turn, t0.session.history) == (0, [])  # type: ignore[union-attr]
    src.answered(t0, 1.0, "a0", True)
    t1 = next(src)
    assert t1.turn == 1 and t1.send_at == 3.0 and t1.session is t0.session
    assert t1.session.history == [{"role": "user", "content": "u0"}, {"role": "assistant", "content": "a0"}]  # type: ignore[union-attr]
    src.answered(t1, 4.0, "a1", True)
    t2 = next(src)
    src.answered(t2, 5.0, "a2", True)
    t3 = next(src)  # the user starts a new session after the last turn
    assert t3.turn == 0 and t3.session is not t0.session and t3.send_at == 7.0


def test_draw_lengths_range() -> None:
    lens = draw_lengths(random.Random(0), 500, 100, 0.5)
    assert min(lens) >= 50 and max(lens) <= 150 and len(set(lens)) > 20
    assert draw_lengths(random.Random(0), 3, 7, 0.0) == [7, 7, 7]


# -- per-request formulas on hand-made timelines --------------------------------------------------


def _rec(**kw: object) -> RequestRecord:
    base: dict[str, object] = {"index": 0, "scheduled_s": 1.0, "ready_s": 1.5, "start_s": 1.6, "ok": True,
                               "first_token_s": 2.0, "end_s": 3.0, "chunk_times_s": [2.0, 2.5, 3.0],
                               "chunk_tokens": [1, 1, 2], "output_tokens": 4, "input_tokens": 10}
    base.update(kw)
    return RequestRecord(**base)  # type: ignore[arg-type]


def test_formulas_on_a_timeline() -> None:
    r = _rec()
    assert r.queue_s == pytest.approx(0.5)  # waiting for the cap
    assert r.dispatch_lag_s == pytest.approx(0.1)  # the client's own lateness
    assert r.ttft_s == pytest.approx(0.4)
    assert r.ttft_from_scheduled_s == pytest.approx(1.0)
    assert r.e2el_s == pytest.approx(1.4)
    assert r.tpot_s == pytest.approx((1.4 - 0.4) / 3)
    assert r.itl_s == pytest.approx([0.5, 0.25, 0.25])  # the 2-token read spreads its gap
    assert r.chunk_itl_s == pytest.approx([0.5, 0.5])
    assert sum(r.itl_s) == pytest.approx(r.chunk_times_s[-1] - r.chunk_times_s[0])


def test_per_token_gaps_first_read_with_several_tokens_and_one_token_answers() -> None:
    assert per_token_gaps([1.0, 2.0], [3, 1]) == [0.0, 0.0, 1.0]
    assert per_token_gaps([1.0], [1]) == []
    assert _rec(output_tokens=1, chunk_times_s=[2.0], chunk_tokens=[1]).tpot_s is None


def test_goodput_slos_and_failures_count_against() -> None:
    ok = _rec()
    assert good(ok, {"ttft": 0.5, "tpot": 0.4, "e2el": 2.0})
    assert not good(ok, {"ttft": 0.3})
    assert not good(ok, {"itl": 0.4})  # p99 token gap 0.5
    assert good(_rec(output_tokens=1, chunk_times_s=[2.0], chunk_tokens=[1]), {"tpot": 0.001})  # TPOT 0 (DistServe)
    assert not good(_rec(ok=False, error_kind="http_500"), {})
    records = [_rec(index=i) for i in range(3)] + [_rec(index=3, ok=False, error_kind="http_500", error="boom")]
    out = compute(records, slos={"ttft": 0.5}, bootstrap=0)
    assert out["completed"] == 3 and out["failed"] == 1
    assert out["goodput_fraction"] == pytest.approx(0.75)
    assert out["errors"] == {"http_500": 1} and out["error_examples"] == {"http_500": "boom"}
    assert out["duration"] == pytest.approx(2.0)  # first scheduled 1.0 to last end 3.0
    assert out["request_throughput"] == pytest.approx(1.5) and out["output_throughput"] == pytest.approx(6.0)
    assert out["total_token_throughput"] == pytest.approx((30 + 12) / 2.0)
    assert out["request_goodput"] == pytest.approx(1.5)
    assert out["median_ttft_ms"] == pytest.approx(400.0) and out["p99_tpot_ms"] == pytest.approx(1000 / 3)


def test_peak_in_flight() -> None:
    rs = [_rec(start_s=0.0, end_s=2.0), _rec(start_s=1.0, end_s=3.0), _rec(start_s=2.0, end_s=4.0)]
    assert peak_in_flight(rs) == 2  # an end and a start at 2.0: the end first


def test_result_json_keys_follow_vllm_bench_serve_and_ours() -> None:
    cfg = BenchConfig(workload=Workload("random"), load=Load(rate=2.0, num_requests=3), slos={"ttft": 1.0},
                      bootstrap=50)
    records = [_rec(index=i, scheduled_s=float(i), ready_s=float(i), start_s=i + 0.1, first_token_s=i + 0.3,
                    chunk_times_s=[i + 0.3, i + 0.4], chunk_tokens=[1, 1], end_s=i + 0.5, output_tokens=2)
               for i in range(3)]
    records.append(_rec(index=0, kind="warmup"))
    data = build_result(cfg, records, audit=None, server_metrics=[None], base_urls=["http://x/v1"], model="m").to_dict()
    vllm_keys = {"duration", "completed", "failed", "total_input_tokens", "total_output_tokens", "request_throughput",
                 "output_throughput", "total_token_throughput", "request_goodput", "max_concurrent_requests",
                 *latency_keys()}
    ours = {"errors", "valid", "invalid_reason", "dispatch_lag_ms", "ci", "server_metrics", "config", "queue_ms",
            "ttft_from_scheduled_ms", "chunk_itl_ms", "steady_state", "warmup", "goodput_fraction"}
    assert vllm_keys | ours <= set(data)
    assert data["completed"] == 3 and data["warmup"] == 1
    assert data["routing"] is None  # one server: nothing was routed
    two = build_result(cfg, records, audit=None, server_metrics=[None, None], base_urls=["http://x/v1", "http://y/v1"],
                       model="m", routing="prefix_affinity").to_dict()
    assert two["routing"] == "prefix_affinity"
    assert set(data["ci"]["ttft_ms"]) == {"mean", "p50", "p90", "p99"}
    lo, hi = data["ci"]["ttft_ms"]["p50"]
    assert lo <= data["p50_ttft_ms"] <= hi
    assert data["config"]["load"]["rate"] == 2.0 and data["config"]["slos"] == {"ttft": 1.0}
    assert data["steady_state"]["start_s"] == pytest.approx(0.1) and data["steady_state"]["end_s"] == pytest.approx(2.1)


# -- errors, audit, /metrics ------------------------------------------------------------------------


def test_error_kinds() -> None:
    bad = BadRequestError("too long", status_code=400, error_type="BadRequestError")
    assert classify(bad, streaming=False)[:2] == ("http_400", 400)
    assert "too long" in classify(bad, streaming=False)[2]
    frame = InternalServerError("engine died", status_code=500)
    assert classify(frame, streaming=True)[0] == "stream_error_frame"
    assert classify(StreamTimeoutError("stream first-token timeout (1s) expired"), streaming=True)[0] == \
        "first_token_timeout"
    assert classify(StreamTimeoutError("stream idle timeout (1s between events) expired"), streaming=True)[0] == \
        "idle_timeout"
    assert classify(APITimeoutError("timed out connecting to http://x"), streaming=False)[0] == "connect_timeout"
    assert classify(APIConnectionError("refused"), streaming=False)[0] == "connect_error"
    assert classify(StreamError("the connection broke after 3 stream chunks: reset"), streaming=True)[0] == \
        "broken_stream"
    assert classify(StreamError("stream ended before [DONE] after 3 chunks"), streaming=True)[0] == \
        "incomplete_stream"
    assert classify(StreamError("stream chunk is not valid JSON: '{'"), streaming=True)[0] == "malformed_stream"
    assert classify(DispatchTimeout("no answer"), streaming=True)[0] == "dispatch_timeout"
    assert classify(KeyError("x"), streaming=True)[0] == "other"
    assert truncation("length", 10, 128) is not None
    assert truncation("length", 128, 128) is None and truncation("stop", 10, 128) is None


def test_audit_verdict() -> None:
    assert verdict(0.001, 0.3, lag_p99=0.01, cpu=0.9) == (True, None)
    valid, reason = verdict(0.05, 0.95, lag_p99=0.01, cpu=0.9)
    assert not valid and reason is not None and "dispatch lag p99 50.0 ms" in reason and "CPU 95%" in reason
    _, starved = verdict(0.05, 0.05, lag_p99=0.01, cpu=0.9, loop_lag_p99_s=0.1)
    assert starved is not None and "too little CPU" in starved


def test_server_metrics_deltas_and_series() -> None:
    def snap(q: float, h: float, running: float) -> dict[str, float]:
        return {'vllm:prefix_cache_queries_total{engine="0",model_name="m"}': q,
                'vllm:prefix_cache_hits_total{engine="0",model_name="m"}': h,
                'vllm:num_requests_running{engine="0",model_name="m"}': running,
                'vllm:request_success_total{finished_reason="stop"}': 1.0,
                'vllm:request_success_total{finished_reason="length"}': q}
    out = summarize([(0.0, snap(100, 10, 0)), (1.0, snap(300, 110, 5)), (2.0, snap(500, 210, 1))])
    assert out is not None
    assert out["deltas"]["prefix_cache_queries"] == 400 and out["deltas"]["prefix_cache_hits"] == 200
    assert out["prefix_cache_hit_rate"] == pytest.approx(0.5)
    assert out["deltas"]["preemptions"] is None  # absent series: None, not 0
    assert out["series"]["running"] == [(0.0, 0), (1.0, 5), (2.0, 1)] and out["max"]["running"] == 5
    assert total(snap(1, 1, 1), "vllm:request_success_total") == 2.0
    assert summarize([]) is None


def test_config_checks_and_slo_parsing() -> None:
    assert parse_slo("ttft=0.5") == ("ttft", 0.5)
    name, seconds = parse_slo("tpot=50ms")
    assert name == "tpot" and seconds == pytest.approx(0.05)
    for bad in ("ttft", "foo=1", "ttft=-1", "ttft=x"):
        with pytest.raises(ValueError):
            parse_slo(bad)
    with pytest.raises(ValueError):
        BenchConfig(workload=Workload("nope")).check()
    with pytest.raises(ValueError):
        BenchConfig(workload=Workload("sharegpt")).check()  # needs :PATH
    with pytest.raises(ValueError):
        BenchConfig(load=Load(num_requests=None, duration=None)).check()
    assert BenchConfig(load=Load(rate=math.inf)).to_dict()["load"]["rate"] == "inf"


def test_token_trace_counts_tokens_per_read_from_running_usage() -> None:
    from vllm_client.bench._run import TokenTrace

    class State:
        _usage: dict[str, int] | None = None

    state = State()
    trace = TokenTrace(0.0, state)
    for now, usage in ((1.0, 1), (1.5, 3), (2.0, 4)):
        state._usage = {"completion_tokens": usage}
        trace.tokens(now, 1)
    assert trace.times == [1.0, 1.5, 2.0] and trace.ttft_s == 1.0
    assert trace.per_read_tokens() == [1, 2, 1]
    trace.tokens(2.2, 0)  # a read with no token event and no new token (the usage chunk): nothing
    state._usage = {"completion_tokens": 5}
    trace.tokens(2.4, 0)  # the finish chunk of a token whose text is "": counted by the usage
    assert trace.times == [1.0, 1.5, 2.0, 2.4] and trace.per_read_tokens() == [1, 2, 1, 1]
    usage_at_end = TokenTrace(0.0, State())  # include_usage only: no running usage per read
    for now in (1.0, 1.1, 1.2):
        usage_at_end.tokens(now, 1)
    usage_at_end.state._usage = {"completion_tokens": 3}  # the last chunk's (choices: [])
    usage_at_end.tokens(1.5, 0)
    assert usage_at_end.times == [1.0, 1.1, 1.2] and usage_at_end.per_read_tokens() == [1, 1, 1]
    nothing_yet = TokenTrace(0.0, state)  # no token read before: a usage read alone is not a first token
    nothing_yet.tokens(0.7, 0)
    assert nothing_yet.ttft_s is None and nothing_yet.times == []
    plain = TokenTrace(0.0, State())
    plain.tokens(1.0, 2)
    plain.tokens(1.2, 1)
    assert plain.per_read_tokens() == [2, 1]  # no running usage: token chunks per read


def test_request_params_per_endpoint() -> None:
    from vllm_client.bench._run import request_params
    from vllm_client.bench._source import Job, Session

    cfg = BenchConfig(workload=Workload("random", extra_body={"temperature": 0}))
    job = Job(0, "measured", 0.0, Prompt(text="hi", messages=[{"role": "user", "content": "hi"}], output_tokens=5))
    endpoint, params = request_params(cfg, job, "m")
    assert endpoint == "chat" and params["max_tokens"] == 5 and params["model"] == "m"
    assert params["extra_body"] == {"temperature": 0, "ignore_eos": True}
    assert params["stream_options"] == {"include_usage": True, "continuous_usage_stats": True}
    session = Session(0, 3, history=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    turn = Job(1, "measured", 0.0, Prompt(text="c", output_tokens=5), session=session, turn=1)
    assert [m["content"] for m in request_params(cfg, turn, None)[1]["messages"]] == ["a", "b", "c"]
    assert "session_id" not in request_params(cfg, turn, None)[1]  # one server: what the anchor sends
    assert request_params(cfg, turn, None, session_ids=True)[1]["session_id"] == "bench-0-0"
    assert "session_id" not in request_params(cfg, job, None, session_ids=True)[1]  # not a session
    cfg.workload.endpoint = "responses"
    endpoint, params = request_params(cfg, job, None)
    assert endpoint == "responses" and params["max_output_tokens"] == 5 and "stream_options" not in params
    files = BenchConfig(workload=Workload("prompts:x.jsonl"))
    assert "ignore_eos" not in request_params(files, job, None)[1]["extra_body"]


def test_progress_snapshot_has_running_percentiles() -> None:
    from vllm_client.bench._progress import Progress, line

    shown: list[dict[str, object]] = []
    prog = Progress(BenchConfig(load=Load(num_requests=10)), shown.append, period=1.0)
    clock = iter([0.5, 1.5, 1.6]).__next__
    prog.begin(0.0, clock)
    for i in range(4):
        prog.record(_rec(index=i, first_token_s=1.6 + 0.1 * i))
    prog.record(_rec(index=9, ok=False))
    prog.tick()  # 0.5: not yet
    prog.tick()  # 1.5: shown
    prog.tick()  # 1.6: within the period
    assert len(shown) == 1
    s = shown[0]
    assert s["done"] == 5 and s["failed"] == 1 and s["p50_ttft_ms"] == pytest.approx(150.0)
    assert "5/10 done (1 failed)" in line(s)


def test_workers_refuse_a_routing_policy_instance() -> None:
    from vllm_client import AsyncVllmClient
    from vllm_client._routing import SessionAffinity
    from vllm_client.bench._workers import worker_routing

    urls = ["http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1"]
    assert worker_routing(AsyncVllmClient(urls, routing="round_robin")) == "round_robin"
    assert worker_routing(AsyncVllmClient(urls)) == "least_outstanding"
    tuned = SessionAffinity(urls, random.Random(0))
    with pytest.raises(ValueError, match="routing by name"):
        worker_routing(AsyncVllmClient(urls, routing=tuned))
    assert worker_routing(AsyncVllmClient(urls[:1], routing=tuned)) == "session_affinity"  # one server: moot
