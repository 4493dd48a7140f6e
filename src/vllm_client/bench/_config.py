"""What a bench run is asked to do: the workload, the load, the limits, the SLOs. Plain data.

:class:`BenchConfig` is what the CLI builds from its flags and what the result JSON echoes
back under ``"config"`` (``to_dict``), so a result file says how it was made.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from .._event_loop import resolve as resolve_loop

__all__ = ["DATASETS", "BenchConfig", "Limits", "Load", "Workload", "parse_slo"]

DATASETS = ("random", "shared-prefix", "multi-turn", "sharegpt", "batch", "prompts")
"""Dataset kinds; the file ones are given as ``sharegpt:PATH``, ``batch:PATH``, ``prompts:PATH``."""

SLO_METRICS = ("ttft", "tpot", "e2el", "itl")
"""Metrics an SLO may bound (seconds). ``itl`` bounds a request's p99 per-token gap."""


@dataclass
class Workload:
    """The requests. ``dataset`` is one of :data:`DATASETS`, the file ones with ``:PATH``.

    - ``random``: prompts of exactly ``input_len`` prompt tokens (the server's own
      ``/tokenize`` and ``/detokenize`` are used to hit it, chat template included),
      ``output_len`` tokens asked with ``ignore_eos``; ``range_ratio`` r draws both
      uniformly in ``[L(1-r), L(1+r)]``.
    - ``shared-prefix``: ``num_prefixes`` prefixes of ``prefix_len`` tokens, each with
      suffixes of ``input_len`` tokens (requests cycle over the prefixes).
    - ``multi-turn``: sessions of ``turns`` turns; each turn adds a user message of
      ``input_len`` tokens to the history (with the previous answers); ``think_time`` seconds
      between a turn's answer and the next turn (exponential with that mean if
      ``think_time_dist == "exponential"``).
    - ``sharegpt:PATH``: the first human/gpt pair of each conversation (output length: the
      gpt answer's token count, or ``output_len`` when given).
    - ``batch:PATH``: an OpenAI batch JSONL (chat and completions lines; streamed here).
    - ``prompts:PATH``: JSONL of ``{"prompt": str, "output_tokens": int?}`` or of strings.

    ``endpoint``: ``chat``, ``completions``, or ``responses`` (the Responses API, which has no
    running usage: tokens per read are counted as token events there).
    ``output_len`` None: 128 for the synthetic datasets, the file's own lengths for files
    (a number overrides them). ``ignore_eos`` None: True for the synthetic datasets (answers
    as long as asked), False for files.
    """

    dataset: str = "random"
    endpoint: Literal["chat", "completions", "responses"] = "chat"
    input_len: int = 512
    output_len: int | None = None
    range_ratio: float = 0.0
    prefix_len: int = 256
    num_prefixes: int = 4
    turns: int = 5
    think_time: float = 0.0
    think_time_dist: Literal["constant", "exponential"] = "constant"
    ignore_eos: bool | None = None
    model: str | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.dataset.split(":", 1)[0]

    @property
    def synthetic(self) -> bool:
        return self.kind in ("random", "shared-prefix", "multi-turn")

    def asked_output_len(self) -> int | None:
        """The tokens to ask for per request (None: the file's or the server's)."""
        return self.output_len if self.output_len is not None else (128 if self.synthetic else None)

    def eos_ignored(self) -> bool:
        return self.ignore_eos if self.ignore_eos is not None else self.synthetic

    @property
    def path(self) -> str | None:
        return self.dataset.split(":", 1)[1] if ":" in self.dataset else None

    def check(self) -> None:
        if self.kind not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}: one of {', '.join(DATASETS)} (files as KIND:PATH)")
        if self.kind in ("sharegpt", "batch", "prompts") and not self.path:
            raise ValueError(f"dataset {self.kind} needs a file: {self.kind}:PATH")
        if self.input_len < 1 or (self.output_len is not None and self.output_len < 1):
            raise ValueError("input_len and output_len must be >= 1")
        if not 0.0 <= self.range_ratio < 1.0:
            raise ValueError(f"range_ratio must be within [0, 1), got {self.range_ratio!r}")
        if self.turns < 1 or self.num_prefixes < 1 or self.prefix_len < 1:
            raise ValueError("turns, num_prefixes and prefix_len must be >= 1")
        if self.think_time < 0:
            raise ValueError("think_time must be >= 0")


@dataclass
class Load:
    """How requests arrive.

    Open loop: ``rate`` requests/s (``inf``: all at once, paced only by ``max_concurrency``),
    gaps ~ Gamma(shape=``burstiness``, mean 1/rate): 1 is Poisson, larger is more even,
    ``inf`` is a constant rate; ``ramp_up`` seconds of linear rise from ``ramp_up_from``.
    Closed loop: ``users`` N (each sends its next request when its previous answer ended,
    plus think time for multi-turn); ``rate`` is then ignored.
    ``max_concurrency`` caps requests in flight; time spent waiting for it is measured
    (``queue_s``) and reported, never hidden.
    Stops after ``num_requests`` measured requests, or ``duration`` seconds of sending
    (whichever comes first; at least one must be set). ``warmup`` requests go first and are
    excluded from every statistic.
    """

    rate: float = math.inf
    burstiness: float = 1.0
    users: int | None = None
    max_concurrency: int | None = None
    ramp_up: float = 0.0
    ramp_up_from: float = 0.0
    num_requests: int | None = 100
    duration: float | None = None
    warmup: int = 0

    def check(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"rate must be > 0 (inf: as fast as allowed), got {self.rate!r}")
        if not self.burstiness > 0:
            raise ValueError(f"burstiness must be > 0, got {self.burstiness!r}")
        if self.users is not None and self.users < 1:
            raise ValueError("users must be >= 1")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        if self.num_requests is None and self.duration is None:
            raise ValueError("set num_requests or duration (or both)")
        if self.num_requests is not None and self.num_requests < 1:
            raise ValueError("num_requests must be >= 1")
        if self.duration is not None and not self.duration > 0:
            raise ValueError("duration must be > 0")
        if self.ramp_up < 0 or self.ramp_up_from < 0 or self.warmup < 0:
            raise ValueError("ramp_up, ramp_up_from and warmup must be >= 0")


@dataclass
class Limits:
    """Per-request timeouts (seconds, None: none): ``connect``, ``first_token`` (to the first
    real token), ``idle`` (between two stream events), ``total`` (the whole request)."""

    connect: float | None = 10.0
    first_token: float | None = None
    idle: float | None = None
    total: float | None = 600.0


@dataclass
class BenchConfig:
    """One bench run. ``slos`` maps ``ttft``/``tpot``/``e2el``/``itl`` to seconds
    (goodput counts requests meeting all of them; failures never do). ``seed`` makes the
    prompts and the arrival times reproducible. ``audit_*`` are the self-audit thresholds
    (see :mod:`vllm_client.bench._audit`); ``scrape_interval`` the ``/metrics`` period (0: at
    start and end only); ``bootstrap`` the CI replicates (0: no CIs); ``workers`` the processes
    the load is spread over (:mod:`vllm_client.bench._workers`); ``event_loop`` the loop of the
    processes bench starts itself, the CLI's and the workers' ("asyncio", "uvloop", or "auto":
    uvloop when installed; see :mod:`vllm_client._event_loop`; :func:`arun_bench` runs on its
    caller's loop)."""

    workload: Workload = field(default_factory=Workload)
    load: Load = field(default_factory=Load)
    limits: Limits = field(default_factory=Limits)
    slos: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    scrape_interval: float = 1.0
    scrape_metrics: bool = True
    bootstrap: int = 1000
    audit_lag_p99: float = 0.010
    audit_cpu: float = 0.90
    label: str | None = None
    workers: int = 1
    event_loop: str = "asyncio"

    def check(self) -> None:
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        resolve_loop(self.event_loop)  # an unknown name, or uvloop asked for and not installed
        self.workload.check()
        self.load.check()
        for name, value in self.slos.items():
            if name not in SLO_METRICS:
                raise ValueError(f"unknown SLO {name!r}: one of {', '.join(SLO_METRICS)}")
            if not value > 0:
                raise ValueError(f"SLO {name} must be > 0 seconds, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for part in out.values():
            if isinstance(part, dict):
                for key, value in part.items():
                    if isinstance(value, float) and math.isinf(value):
                        part[key] = "inf"  # JSON has no infinity
        return out


def parse_slo(text: str) -> tuple[str, float]:
    """``"ttft=0.5"`` -> ``("ttft", 0.5)``; values in seconds, ``ms`` suffix accepted."""
    name, sep, value = text.partition("=")
    name = name.strip().lower()
    if not sep or name not in SLO_METRICS:
        raise ValueError(f"an SLO is METRIC=SECONDS with METRIC one of {', '.join(SLO_METRICS)}, got {text!r}")
    value = value.strip().lower()
    scale = 1.0
    if value.endswith("ms"):
        value, scale = value[:-2], 0.001
    elif value.endswith("s"):
        value = value[:-1]
    try:
        seconds = float(value) * scale
    except ValueError:
        raise ValueError(f"SLO {name}: {value!r} is not a number of seconds") from None
    if not seconds > 0:
        raise ValueError(f"SLO {name} must be > 0")
    return name, seconds
