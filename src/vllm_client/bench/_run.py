"""The bookkeeping of a run, shared by the async loop and its generated sync twin: the
request body of a job, its record from start to outcome, the per-read token trace, the
result. No I/O (the stream is read by the loop; this only looks at what it got).

The hot path is the stream: :class:`TokenTrace` replaces the stream's own
:class:`~vllm_client._stream_metrics.StreamMetrics` for a bench request and keeps, per
socket read that brought tokens, one ``perf_counter`` reading (the one the stream takes
anyway) and the running ``completion_tokens`` of continuous usage stats: three list appends
per read, nothing per event. Measured (a 1800-token stream from a local emulator, CPU per
token chunk, this loaded 2-core box): 16.5 us with the trace against 15.9-16.7 us with the
stream's own metrics (no difference within noise); asking for continuous usage costs ~1-2 us
per chunk over ``include_usage`` alone, the price of exact tokens per chunk (chunks carrying
the running usage take the typed plain-chunk path too, see ``_protocol/plain_chunks``).

The trace also sees reads that brought no token *event* (``every_read``): vLLM sends a
token whose text is not yet whole UTF-8 as ``content: ""``, which no event reports, and
when that is the last token its text-less finish chunk would otherwise lose it. The
running usage says the token arrived, so the read is kept (a real-vLLM run summed 7 of 8
tokens before this).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .._stream_metrics import StreamMetrics
from ._config import BenchConfig
from ._errors import classify, truncation
from ._records import RequestRecord
from ._source import Job

__all__ = ["Run", "TokenTrace", "request_params"]

STREAM_OPTIONS = {"include_usage": True, "continuous_usage_stats": True}


class TokenTrace(StreamMetrics):
    """Per-read times and running token counts of one stream."""

    __slots__ = ("counts", "cumulative", "state", "times")
    every_read = True  # reads without a token event too: a token whose text is "" shows in the usage

    def __init__(self, started: float, state: Any) -> None:
        StreamMetrics.__init__(self, started)
        self.times: list[float] = []
        self.counts: list[int] = []
        self.cumulative: list[int | None] = []
        self.state = state  # the stream state: its ``_usage`` is the latest usage seen

    def tokens(self, now: float, count: int = 1) -> None:
        usage = getattr(self.state, "_usage", None)  # chat/completions; Responses streams have no running usage
        done = usage.get("completion_tokens") if usage is not None else None
        if count <= 0:
            # A read with events but no text (the finish chunk, most often): vLLM sends a
            # token whose text is not yet whole UTF-8 as ``content: ""``, which no event
            # counts; the running usage still shows it arrived, here and now. Only once
            # earlier token reads carried running usage (continuous usage stats): with
            # ``include_usage`` alone the one usage chunk at the end is no token's arrival.
            cum = self.cumulative
            last = cum[-1] if cum else None
            if done is None or last is None or done <= last:
                return
        if self.ttft_s is None:
            self.ttft_s = now - self.started
        self.times.append(now)
        self.counts.append(count)
        self.cumulative.append(done)

    def per_read_tokens(self) -> list[int]:
        """Tokens each read brought: running-usage deltas when every read had them (the
        server sent continuous usage), else the token chunks of the read."""
        cum = self.cumulative
        if not cum or any(c is None for c in cum):
            return list(self.counts)
        out = []
        prev = 0
        for c in cum:
            value = int(c or 0)
            out.append(max(0, value - prev))
            prev = value
        return out


def attach_trace(stream: Any) -> TokenTrace:
    """Put a :class:`TokenTrace` in place of a fresh stream's metrics (before it is read)."""
    decoder = stream._decoder
    trace = TokenTrace(stream._metrics.started, getattr(decoder, "_state", None) or getattr(decoder, "state", None))
    stream._metrics = trace
    return trace


def request_params(config: BenchConfig, job: Job, model: str | None, *,
                   session_ids: bool = False) -> tuple[str, dict[str, Any]]:
    """(endpoint, keyword arguments of ``create``) for a job. ``session_ids``: a multi-turn
    job says its session (``session_id``, also sent as ``X-Session-ID``), so that routing over
    several servers can keep a conversation where its history is cached; off
    for one server, whose requests then stay exactly what the anchor sends."""
    wl = config.workload
    prompt = job.prompt
    extra = dict(prompt.body)
    model = extra.pop("model", None) or model
    extra.update(wl.extra_body)
    if wl.eos_ignored():
        extra["ignore_eos"] = True
    endpoint = wl.endpoint if wl.endpoint == "responses" else prompt.endpoint
    params: dict[str, Any] = {"extra_body": extra}
    if endpoint != "responses":
        params["stream_options"] = dict(STREAM_OPTIONS)
    if model:
        params["model"] = model
    if session_ids and job.session is not None:
        params["session_id"] = f"bench-{config.seed}-{job.session.id}"
    if prompt.output_tokens is not None:
        params["max_output_tokens" if endpoint == "responses" else "max_tokens"] = prompt.output_tokens
    if endpoint == "responses":
        if job.session is not None:
            params["input"] = [*job.session.history, {"role": "user", "content": prompt.text or ""}]
        else:
            params["input"] = prompt.messages or [{"role": "user", "content": prompt.text or ""}]
    elif endpoint == "chat":
        if job.session is not None:
            messages = [*job.session.history, {"role": "user", "content": prompt.text or ""}]
        else:
            messages = prompt.messages or [{"role": "user", "content": prompt.text or ""}]
        params["messages"] = messages
    elif job.session is not None:
        history = "".join(f"{m['content']}\n" for m in job.session.history)
        params["prompt"] = history + (prompt.text or "")
    else:
        params["prompt"] = prompt.text if prompt.text is not None else ""
    return endpoint, params


def _finish_reason(final: Any) -> str | None:
    """``finish_reason``; for a Responses answer, "length" when it stopped at
    ``max_output_tokens`` ("incomplete"), "stop" when completed."""
    if hasattr(final, "finish_reason"):
        reason = final.finish_reason
        return reason if isinstance(reason, str) else None
    status = getattr(final, "status", None)
    if status == "incomplete":
        details = getattr(final, "incomplete_details", None) or {}
        return "length" if details.get("reason") == "max_output_tokens" else "incomplete"
    return "stop" if status == "completed" else status


class Run:
    """Records of one phase (warm-up or measured), on a clock whose zero is ``origin``."""

    def __init__(self, config: BenchConfig, *, server: str | None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.config = config
        self.server = server
        self.clock = clock
        self.origin = clock()
        self.records: list[RequestRecord] = []
        self.on_record: Callable[[RequestRecord], None] | None = None

    def begin(self, job: Job, scheduled: float, ready: float | None) -> RequestRecord:
        """A job's call starts now; ``scheduled``/``ready`` on the clock (absolute)."""
        now = self.clock()
        origin = self.origin
        sched = scheduled - origin if job.send_at is not None else (ready if ready is not None else now) - origin
        rec = RequestRecord(job.index, job.kind, job.session.id if job.session is not None else None, job.turn,
                            scheduled_s=sched, ready_s=None if ready is None else max(sched, ready - origin),
                            start_s=now - origin, expected_output_tokens=job.prompt.output_tokens,
                            input_tokens=job.prompt.input_tokens, server=self.server)
        return rec

    def succeeded(self, rec: RequestRecord, trace: TokenTrace, final: Any, end: float) -> str | None:
        """Fill a streamed answer in; returns the answer's text (for the next turn)."""
        origin = self.origin
        rec.end_s = end - origin
        rec.chunk_times_s = [t - origin for t in trace.times]
        rec.chunk_tokens = trace.per_read_tokens()
        rec.first_token_s = rec.chunk_times_s[0] if rec.chunk_times_s else None
        usage = getattr(final, "usage", None)
        if usage is not None and hasattr(usage, "prompt_tokens"):
            rec.input_tokens = usage.prompt_tokens
            rec.output_tokens = usage.completion_tokens
            rec.cached_tokens = usage.cached_tokens
        elif usage is not None:  # a Responses answer
            rec.input_tokens = usage.input_tokens
            rec.output_tokens = usage.output_tokens
        else:
            rec.output_tokens = sum(rec.chunk_tokens)
        rec.finish_reason = _finish_reason(final)
        cut = truncation(rec.finish_reason, rec.output_tokens, rec.expected_output_tokens)
        if cut is not None:
            rec.ok, rec.error_kind, rec.error = False, "truncated", cut
        elif rec.first_token_s is None:
            rec.ok, rec.error_kind, rec.error = False, "empty_stream", "the stream ended without a token"
        else:
            rec.ok = True
        answer = getattr(final, "content", None)
        if answer is None:
            answer = getattr(final, "text", None) if hasattr(final, "text") else getattr(final, "output_text", None)
        return answer if isinstance(answer, str) else None

    def failed(self, rec: RequestRecord, error: BaseException, trace: TokenTrace | None, streaming: bool,
               end: float) -> None:
        origin = self.origin
        rec.end_s = end - origin
        if trace is not None:
            rec.chunk_times_s = [t - origin for t in trace.times]
            rec.chunk_tokens = trace.per_read_tokens()
            rec.first_token_s = rec.chunk_times_s[0] if rec.chunk_times_s else None
            rec.output_tokens = sum(rec.chunk_tokens) if rec.chunk_tokens else 0
        rec.ok = False
        rec.error_kind, rec.status, rec.error = classify(error, streaming=streaming)

    def add(self, rec: RequestRecord) -> None:
        self.records.append(rec)
        if self.on_record is not None:
            self.on_record(rec)
