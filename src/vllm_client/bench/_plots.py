"""PNG plots of a bench run and of a sweep (``--plot DIR``), through the optional extra
``vllm-client[bench]`` (matplotlib).

matplotlib is imported on first use, never by ``import vllm_client.bench``: it costs ~0.3 s
and 30 MB, and a run that writes no plots must not pay it. Figures are drawn with
``matplotlib.figure.Figure`` and the Agg canvas directly, not ``pyplot``: no global figure
registry, no GUI backend chosen behind the user's back, safe from any thread.

One run gives, in ``DIR``:

- ``cdf_ttft.png``, ``cdf_tpot.png``, ``cdf_itl.png``, ``cdf_e2el.png``: the empirical
  distribution of each latency with p50/p90/p99 marked (a metric without samples, e.g. TPOT
  of one-token answers, gives no file);
- ``ttft_over_time.png``: each request's TTFT against its send time (queueing shows as a
  ramp, a stall as a column);
- ``itl_over_time.png``: every token gap against its arrival time (per token: a read that
  brought k tokens after a gap g counts k gaps of g/k, as the result's ITL does);
- ``throughput_over_time.png``: output tokens/s in 1-s bins, and the requests in flight.

A sweep gives ``sweep_latency_vs_throughput.png``: p50 and p99 of TTFT and TPOT against the
delivered output throughput, one point per load, SLO limits drawn, passing points filled.
Records are :class:`RequestRecord` objects or their JSONL dicts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._stats import percentile

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["EXTRA_HINT", "plot_run", "plot_sweep", "require_matplotlib"]

EXTRA_HINT = "plots need matplotlib: pip install 'vllm-client[bench]'"
#: More points than this in a scatter are thinned evenly (a PNG cannot show them apart anyway).
MAX_SCATTER_POINTS = 100_000
_LATENCIES = (("ttft", "TTFT"), ("tpot", "TPOT"), ("itl", "ITL (per token)"), ("e2el", "E2E latency"))


def require_matplotlib() -> None:
    """Raise ImportError naming the extra when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(EXTRA_HINT) from exc


def plot_run(result: Mapping[str, Any], records: Iterable[Any], out_dir: str | Path) -> list[Path]:
    """Write one run's PNGs into ``out_dir`` (created if needed); returns the files written."""
    require_matplotlib()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    measured = [r for r in records if _get(r, "kind") != "warmup"]
    ok = [r for r in measured if _get(r, "ok")]
    label = _label(result)
    written: list[Path] = []
    for name, title in _LATENCIES:
        samples = _latency_samples(ok, name)
        if samples:
            written.append(_save(_cdf(samples, f"{title} - {label}", f"{title} (ms)"), out / f"cdf_{name}.png"))
    starts = [(_get(r, "start_s"), _get(r, "ttft_s")) for r in ok]
    ttft_points = [(s, 1000.0 * t) for s, t in starts if s is not None and t is not None]
    if ttft_points:
        written.append(_save(_scatter(ttft_points, f"TTFT over time - {label}", "TTFT (ms)"),
                             out / "ttft_over_time.png"))
    itl_points = list(_itl_points(ok))
    if itl_points:
        written.append(_save(_scatter(itl_points, f"ITL over time - {label}", "ITL per token (ms)"),
                             out / "itl_over_time.png"))
    if measured:
        written.append(_save(_throughput(measured, label), out / "throughput_over_time.png"))
    return written


def plot_sweep(sweep: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """Write ``sweep_latency_vs_throughput.png`` for a sweep result (``{"points": [{"load",
    "passes", "result": {...}}], "slos": [{"metric", "limit_ms", "percentile"}]}``)."""
    require_matplotlib()
    from matplotlib.figure import Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    points = [p for p in sweep.get("points", ()) if isinstance(p.get("result"), Mapping)]
    if not points:
        return []
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    axes = fig.subplots(1, 2)
    limits = {s.get("metric"): s.get("limit_ms") for s in sweep.get("slos", ()) if isinstance(s, Mapping)}
    for ax, metric, title in ((axes[0], "ttft", "TTFT"), (axes[1], "tpot", "TPOT")):
        xs = [float(p["result"].get("output_throughput") or 0.0) for p in points]
        for stat, marker in (("median", "o"), ("p99", "s")):
            ys = [_float(p["result"].get(f"{stat}_{metric}_ms")) for p in points]
            ax.plot(xs, ys, marker=marker, label=f"{stat}", linewidth=1)
            for x, y, p in zip(xs, ys, points, strict=True):
                if not p.get("passes") and not math.isnan(y):
                    ax.plot([x], [y], marker=marker, color="white", markeredgecolor="red", markersize=7)
        for x, p in zip(xs, points, strict=True):
            ax.annotate(f"{p.get('load'):g}", (x, _float(p["result"].get(f"p99_{metric}_ms"))), fontsize=7,
                        textcoords="offset points", xytext=(3, 4))
        if limits.get(metric):
            ax.axhline(float(limits[metric] or 0), color="red", linestyle="--", linewidth=1, label="SLO")
        ax.set_xlabel("output throughput (tokens/s)")
        ax.set_ylabel(f"{title} (ms)")
        ax.set_title(f"{title} against throughput (labels: load; hollow red: fails)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    kind = sweep.get("kind", "rate")
    fig.suptitle(f"bench sweep over {kind}" + (f": best {sweep['best']:g}" if sweep.get("best") else ""))
    return [_save(fig, out / "sweep_latency_vs_throughput.png")]


# -- figures ---------------------------------------------------------------------------------

def _new(title: str) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return fig, ax


def _cdf(samples: list[float], title: str, xlabel: str) -> Figure:
    fig, ax = _new(title)
    x = sorted(samples)
    n = len(x)
    ax.step(x, [(i + 1) / n for i in range(n)], where="post", linewidth=1.2)
    for q, color in ((50, "tab:green"), (90, "tab:orange"), (99, "tab:red")):
        value = percentile(x, q, presorted=True)
        ax.axvline(value, color=color, linestyle=":", linewidth=1)
        ax.annotate(f"p{q} {value:.3g}", (value, q / 100), fontsize=8, color=color, textcoords="offset points",
                    xytext=(4, -10))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"fraction of samples (n={n})")
    ax.set_ylim(0, 1.02)
    return fig


def _scatter(points: list[tuple[float, float]], title: str, ylabel: str) -> Figure:
    fig, ax = _new(title)
    t0 = min(p[0] for p in points)
    step = max(1, math.ceil(len(points) / MAX_SCATTER_POINTS))
    shown = points[::step]
    ax.scatter([p[0] - t0 for p in shown], [p[1] for p in shown], s=3, alpha=0.5, linewidths=0, rasterized=True)
    ax.set_xlabel("time since the first request (s)" + (f"; every {step}th point" if step > 1 else ""))
    ax.set_ylabel(ylabel)
    return fig


def _throughput(records: Sequence[Any], label: str) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    starts = [s for s in (_get(r, "start_s") for r in records) if s is not None]
    t0 = min(starts) if starts else 0.0
    ends = [e for e in (_get(r, "end_s") for r in records) if e is not None]
    last = max([*ends, *starts, t0]) - t0
    bins = max(1, math.ceil(last))
    tokens = [0.0] * bins
    for r in records:
        times = _get(r, "chunk_times_s") or ()
        counts = _get(r, "chunk_tokens") or [1] * len(times)
        for t, k in zip(times, counts, strict=False):
            tokens[min(bins - 1, max(0, int(t - t0)))] += k
    edges = [float(i) for i in range(bins)] + [max(last, bins - 1 + 1e-3)]
    rates = [k / (edges[i + 1] - edges[i]) for i, k in enumerate(tokens)]  # the last bin may be partial
    top.stairs(rates, edges, linewidth=1.2)
    top.set_ylim(bottom=0)
    top.set_ylabel("output tokens/s")
    top.set_title(f"Throughput over time - {label}", fontsize=10)
    top.grid(alpha=0.3)
    events = sorted([(s - t0, 1) for s in starts] + [(e - t0, -1) for e in ends])
    xs, ys, level = [0.0], [0], 0
    for t, step in events:
        level += step
        xs.append(t)
        ys.append(level)
    bottom.step(xs, ys, where="post", linewidth=1.2, color="tab:purple")
    bottom.set_ylabel("requests in flight")
    bottom.set_xlabel("time since the first request (s)")
    bottom.grid(alpha=0.3)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, format="png", dpi=100)  # the Agg canvas for PNG, whatever pyplot's backend
    return path


# -- data ------------------------------------------------------------------------------------

def _latency_samples(records: Sequence[Any], name: str) -> list[float]:
    if name == "itl":
        return [1000.0 * g for r in records for g in (_get(r, "itl_s") or ())]
    return [1000.0 * v for v in (_get(r, f"{name}_s") for r in records) if v is not None]


def _itl_points(records: Sequence[Any]) -> Iterable[tuple[float, float]]:
    for r in records:
        times = _get(r, "chunk_times_s") or []
        counts = _get(r, "chunk_tokens") or [1] * len(times)
        for prev, t, k in zip(times, times[1:], counts[1:], strict=False):
            if k > 0:
                yield t, 1000.0 * (t - prev) / k


def _label(result: Mapping[str, Any]) -> str:
    config = result.get("config")
    label = config.get("label") if isinstance(config, Mapping) else None
    completed = result.get("completed")
    return f"{label or 'run'} ({completed} requests)" if completed is not None else str(label or "run")


def _float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _get(record: Any, name: str) -> Any:
    if isinstance(record, Mapping):
        return record.get(name)
    return getattr(record, name, None)
