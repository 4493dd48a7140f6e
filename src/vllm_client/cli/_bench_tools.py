"""``bench compare``, ``bench sweep`` and ``bench calibrate``: the commands around ``bench serve``.

They register on the ``bench`` group (``_bench`` owns it, with ``serve``; it imports this
module), so this module loads only with ``vllm-client bench ...``. ``compare`` is the CI gate: it prints
the per-metric table on stdout (``--json``: the comparison as JSON) and exits 1 on a
regression beyond ``--threshold``, 0 otherwise, 2 on input it cannot read.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from ._app import LOOP_HELP, ROUTING_HELP, Globals, checked_loop, checked_routing, client_command
from ._bench import bench_app
from ._output import console, error_line, notice, print_json

__all__ = ["calibrate", "compare_command", "load_records", "need_matplotlib", "parse_threshold", "sweep"]

#: Exit status for input compare cannot read (1 is reserved for "regression").
EXIT_BAD_INPUT = 2


def need_matplotlib() -> None:
    """Exit 1 with one red line naming the extra when matplotlib is missing (``--plot``)."""
    from ..bench._plots import require_matplotlib

    try:
        require_matplotlib()
    except ImportError as exc:
        error_line(exc)
        raise typer.Exit(1) from None


def parse_threshold(text: str) -> float:
    """``5%`` or ``0.05`` -> 0.05."""
    value = text.strip()
    try:
        number = float(value[:-1]) / 100.0 if value.endswith("%") else float(value)
    except ValueError:
        raise typer.BadParameter(f"a threshold is a percentage (5%) or a fraction (0.05), not {text!r}") from None
    if not number >= 0 or math.isinf(number):
        raise typer.BadParameter(f"a threshold must be >= 0, not {text!r}")
    return number


def load_records(result_path: Path, result: dict[str, Any], explicit: Path | None) -> list[dict[str, Any]] | None:
    """The per-request JSONL behind a result: ``explicit``, else the file the result names
    (``requests_path``), else ``RESULT.jsonl`` beside ``RESULT.json``; None when there is none."""
    candidates = [explicit] if explicit else []
    named = result.get("requests_path")
    if not explicit and isinstance(named, str):
        candidates.append(Path(named) if Path(named).is_absolute() else result_path.parent / named)
    if not explicit:
        candidates.append(result_path.with_suffix(".jsonl"))
    for path in candidates:
        if path is not None and path.is_file():
            with open(path, "rb") as f:
                return [json.loads(line) for line in f if line.strip()]
    if explicit:
        raise FileNotFoundError(f"no such requests file: {explicit}")
    return None


@bench_app.command("compare")
def compare_command(
    baseline: Annotated[Path, typer.Argument(help="The baseline result JSON (A).")],
    candidate: Annotated[Path, typer.Argument(help="The new result JSON (B).")],
    threshold: Annotated[str, typer.Option(
        "--threshold", help="A worse change beyond this (5% or 0.05) that is significant fails: exit 1.")] = "5%",
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", help="Compare only these keys (repeatable), e.g. p99_ttft_ms.")] = None,
    requests_a: Annotated[Path | None, typer.Option(
        "--requests-a", help="A's per-request JSONL (default: the one it names, or A.jsonl beside it).")] = None,
    requests_b: Annotated[Path | None, typer.Option("--requests-b", help="B's per-request JSONL.")] = None,
    level: Annotated[float, typer.Option("--level", min=0.5, max=0.999, help="Confidence level.")] = 0.95,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Compare two bench results metric by metric; exit 1 on a significant regression beyond the threshold."""
    from ..bench._compare import compare

    limit = parse_threshold(threshold)
    try:
        a, b = _read_result(baseline), _read_result(candidate)
        records_a = load_records(baseline, a, requests_a)
        records_b = load_records(candidate, b, requests_b)
    except (OSError, ValueError) as exc:
        error_line(exc)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    comparison = compare(a, b, threshold=limit, metrics=metric or None, baseline_records=records_a,
                         candidate_records=records_b, level=level)
    if as_json:
        print_json(comparison.to_dict())
    else:
        _print_comparison(comparison, baseline.name, candidate.name)
    raise typer.Exit(comparison.exit_status)


def _read_result(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a bench result (a JSON object)")
    return data


_STYLE = {"better": "green", "worse": "red", "no significant change": "", "not comparable": "dim"}


def _print_comparison(comparison: Any, name_a: str, name_b: str) -> None:
    from rich.table import Table
    from rich.text import Text

    con = console()
    for warning in comparison.warnings:
        con.print(Text(f"warning: {warning}", style="yellow"))
    table = Table(title=f"A = {name_a}   B = {name_b}   threshold {comparison.threshold:.1%}", title_justify="left")
    for header in ("metric", "A", "B", "B - A", "change", f"{comparison.level:.0%} CI of B - A", "verdict"):
        table.add_column(header, justify="left" if header in ("metric", "verdict") else "right")
    for d in comparison.deltas:
        ci = f"[{_num(d.ci[0])}, {_num(d.ci[1])}]" + (" boot" if d.ci_source == "bootstrap" else "") if d.ci else "-"
        verdict = d.verdict + (" (no CI)" if d.ci is None and d.verdict in ("better", "worse") else "")
        if d.regression:
            verdict += "  REGRESSION"
        rel = f"{d.relative:+.1%}" if d.relative is not None else "-"
        table.add_row(d.metric, _num(d.baseline), _num(d.candidate), _num(d.delta), rel, ci,
                      Text(verdict, style="bold red" if d.regression else _STYLE[d.verdict]))
    con.print(table)
    regressions = comparison.regressions
    if regressions:
        con.print(Text(f"{len(regressions)} regression(s) beyond {comparison.threshold:.1%}: "
                       + ", ".join(d.metric for d in regressions), style="bold red"))
    else:
        con.print(Text(f"no regression beyond {comparison.threshold:.1%}", style="green"))


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.0f}"


# -- sweep -----------------------------------------------------------------------------------

_S = "Sweep"
_W = "Workload and load (as bench serve)"


def _loads(text: str, what: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"--{what} takes numbers separated by commas, e.g. 1,2,4,8") from None
    if not values or any(not v > 0 for v in values):
        raise typer.BadParameter(f"--{what} needs positive numbers")
    return values


@client_command("sweep", group=bench_app)
def sweep(
    opts: Globals,
    rates: Annotated[str | None, typer.Option("--rates", rich_help_panel=_S,
                                              help="Open-loop rates to try (req/s), e.g. 1,2,4,8,16.")] = None,
    concurrencies: Annotated[str | None, typer.Option("--concurrencies", rich_help_panel=_S, help=(
        "Closed-loop user counts to try instead, e.g. 1,2,4,8."))] = None,
    slo: Annotated[list[str] | None, typer.Option("--slo", metavar="METRIC=SECONDS", rich_help_panel=_S, help=(
        "SLO on a percentile (repeatable): ttft, tpot, e2el, itl; also the runs' goodput SLOs."))] = None,
    percentile: Annotated[float, typer.Option("--percentile", min=1.0, max=100.0, rich_help_panel=_S,
                                              help="Which percentile the SLOs bound.")] = 99.0,
    refine: Annotated[int, typer.Option("--refine", min=0, rich_help_panel=_S, help=(
        "Bisection steps between the last passing and the first failing load."))] = 0,
    max_error_rate: Annotated[float, typer.Option("--max-error-rate", min=0.0, max=1.0, rich_help_panel=_S,
                                                  help="Failed fraction a passing point may have.")] = 0.0,
    dataset: Annotated[str, typer.Option("--dataset", "-d", rich_help_panel=_W,
                                         help="As bench serve: random, shared-prefix, prompts:PATH, ...")] = "random",
    endpoint: Annotated[str, typer.Option("--endpoint", rich_help_panel=_W, help="chat or completions.")] = "chat",
    input_len: Annotated[int, typer.Option("--input-len", min=1, rich_help_panel=_W)] = 512,
    output_len: Annotated[int | None, typer.Option("--output-len", min=1, rich_help_panel=_W)] = None,
    burstiness: Annotated[float, typer.Option("--burstiness", rich_help_panel=_W)] = 1.0,
    max_concurrency: Annotated[int | None, typer.Option("--max-concurrency", "-c", min=1, rich_help_panel=_W)] = None,
    num_requests: Annotated[int | None, typer.Option("--num-requests", "-n", min=1, rich_help_panel=_W, help=(
        "Measured requests per point. Default: 100, or unlimited with --duration."))] = None,
    duration: Annotated[float | None, typer.Option("--duration", min=0.001, rich_help_panel=_W,
                                                   help="Seconds of sending per point.")] = None,
    warmup: Annotated[int, typer.Option("--warmup", min=0, rich_help_panel=_W)] = 0,
    seed: Annotated[int, typer.Option("--seed", rich_help_panel=_W)] = 0,
    loop: Annotated[str, typer.Option("--loop", callback=checked_loop, help=LOOP_HELP, rich_help_panel=_W)] = "asyncio",
    routing: Annotated[str | None, typer.Option("--routing", callback=checked_routing, help=ROUTING_HELP,
                                                rich_help_panel=_W)] = None,
    result: Annotated[Path | None, typer.Option("--result", help="Write the sweep JSON (every point).")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the sweep PNG here (needs vllm-client[bench]).")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the sweep JSON instead of the table.")] = False,
) -> None:
    """Run bench serve at rising loads; report the highest load whose SLOs hold with confidence."""
    from .._event_loop import run as run_on_loop
    from ..bench import BenchConfig, Load, Workload, parse_slo
    from ..bench._search import Slo

    if (rates is None) == (concurrencies is None):
        raise typer.BadParameter("give --rates or --concurrencies (one of them)")
    kind = "rate" if rates is not None else "concurrency"
    loads = _loads(rates if rates is not None else concurrencies or "", "rates" if rates else "concurrencies")
    if kind == "concurrency" and any(x != int(x) for x in loads):
        raise typer.BadParameter("--concurrencies are whole numbers")
    goodput = dict(parse_slo(s) for s in slo or ())
    slos = [Slo(name, seconds * 1000.0, percentile) for name, seconds in goodput.items()]
    if plot is not None:
        need_matplotlib()  # before the run, not after it
    config = BenchConfig(
        workload=Workload(dataset=dataset, endpoint=endpoint, input_len=input_len,  # type: ignore[arg-type]
                          output_len=output_len, model=opts.model),
        load=Load(burstiness=burstiness, max_concurrency=max_concurrency,
                  num_requests=num_requests if num_requests or duration else 100, duration=duration, warmup=warmup),
        slos=goodput, seed=seed, event_loop=loop)
    config.check()
    state = run_on_loop(_sweep(opts, config, loads, slos, kind, refine, max_error_rate, routing), config.event_loop)
    data = state.to_dict()
    if result is not None:
        result.write_text(json.dumps(data, indent=1, allow_nan=False))
    if plot is not None:
        from ..bench._plots import plot_sweep

        for path in plot_sweep(data, plot):
            notice(f"wrote {path}")
    if as_json:
        print_json(data)
    else:
        _print_sweep(data)


async def _sweep(opts: Globals, config: Any, loads: list[float], slos: list[Any], kind: str, refine: int,
                 max_error_rate: float, routing: str | None = None) -> Any:
    from .._async.client import AsyncVllmClient
    from .._config import Limits as PoolLimits
    from ..bench._sweep import asweep

    urls = [u for u in (opts.base_url or "").split(",") if u] or None
    top = int(max(loads)) if kind == "concurrency" else 0
    cap = max(config.load.max_concurrency or 0, top, 256)

    def point(entry: dict[str, Any]) -> None:
        verdict = "passes" if entry["passes"] else "fails: " + "; ".join(entry["reasons"])
        notice(f"{kind} {entry['load']:g}: {entry['result'].get('request_throughput', 0):.3g} req/s, {verdict}")

    async with AsyncVllmClient(urls, api_key=opts.api_key, max_retries=0, routing=routing,
                               limits=PoolLimits(max_connections=cap, max_keepalive=cap)) as client:
        return await asweep(client, config, loads, slos, kind=kind,  # type: ignore[arg-type]
                            refine=refine, max_error_rate=max_error_rate, on_point=point)


def _print_sweep(data: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    con = console()
    slos = ", ".join(f"p{s['percentile']:g} {s['metric']} <= {s['limit_ms']:g} ms" for s in data["slos"]) or "none"
    table = Table(title=f"bench sweep over {data['kind']} (SLOs: {slos})", title_justify="left")
    for header in ("load", "req/s", "output tok/s", "goodput", "median TTFT", "p99 TTFT", "p99 TPOT", "verdict"):
        table.add_column(header, justify="left" if header == "verdict" else "right")
    for p in data["points"]:
        r = p["result"]
        table.add_row(f"{p['load']:g}", _num(r.get("request_throughput")), _num(r.get("output_throughput")),
                      _num(r.get("request_goodput")), _num(r.get("median_ttft_ms")), _num(r.get("p99_ttft_ms")),
                      _num(r.get("p99_tpot_ms")),
                      Text("pass" if p["passes"] else "fail: " + "; ".join(p["reasons"]),
                           style="green" if p["passes"] else "red"))
    con.print(table)
    best = data.get("best")
    con.print(Text(f"best {data['kind']}: {best:g}" if best is not None else f"no {data['kind']} met the SLOs",
                   style="bold green" if best is not None else "bold red"))
    if data.get("stopped"):
        con.print(Text(f"stopped: {data['stopped']}", style="dim"))


# -- calibrate -------------------------------------------------------------------------------

@bench_app.command("calibrate")
def calibrate(
    tokens: Annotated[int, typer.Option("--tokens", min=2, help="Tokens (= chunks) per streamed answer.")] = 128,
    token_rate: Annotated[float, typer.Option("--token-rate", min=1.0, help=(
        "The emulator's tokens/s per stream (chunks of many streams interleave)."))] = 1000.0,
    start_rate: Annotated[float, typer.Option("--start-rate", min=0.1, help="First request rate (req/s).")] = 10.0,
    max_rate: Annotated[float, typer.Option("--max-rate", min=0.1, help="Highest rate to try.")] = 2560.0,
    seconds: Annotated[float, typer.Option("--seconds", min=0.1, help="Seconds of sending per rate.")] = 5.0,
    lag_ms: Annotated[float, typer.Option("--lag-ms", min=0.01, help="Dispatch-lag p99 a rate must stay under.")]
    = 1.0,
    refine: Annotated[int, typer.Option("--refine", min=0, help="Bisection steps after the first failure.")] = 2,
    loop: Annotated[str, typer.Option("--loop", callback=checked_loop, help=LOOP_HELP)] = "asyncio",
    as_json: Annotated[bool, typer.Option("--json", help="Print the calibration as JSON.")] = False,
) -> None:
    """This machine's client ceiling: requests/s and chunks/s one process sends with dispatch lag p99 under --lag-ms,
    against the built-in emulator in its own process."""
    from ..bench._calibrate import calibrate as run_calibration

    def point(entry: dict[str, Any]) -> None:
        verdict = "ok" if entry["passes"] else "fails: " + "; ".join(entry["reasons"])
        notice(f"rate {entry['load']:g} req/s: {entry['chunks_per_s']:.0f} chunks/s, dispatch lag p99 "
               f"{entry['lag_p99_ms']:.3g} ms, client CPU {entry['client_cpu_util']:.0%}, emulator CPU "
               f"{entry['emulator_cpu_util']:.0%}: {verdict}")

    data = run_calibration(tokens=tokens, token_rate=token_rate, start_rate=start_rate, max_rate=max_rate,
                           seconds=seconds, lag_ms=lag_ms, refine=refine, event_loop=loop, on_point=point)
    if as_json:
        print_json(data)
        return
    from rich.text import Text

    con = console()
    ceiling = data["ceiling"]
    if ceiling is None:
        con.print(Text(f"no rate from {start_rate:g} req/s kept dispatch lag p99 under {lag_ms:g} ms",
                       style="bold red"))
    else:
        con.print(Text(f"client ceiling: {ceiling['rate']:g} req/s, {ceiling['chunks_per_s']:.0f} chunks/s "
                       f"(dispatch lag p99 {ceiling['lag_p99_ms']:.3g} ms < {lag_ms:g} ms, "
                       f"on {data['settings']['event_loop']})", style="bold green"))
    for note in data["notes"]:
        con.print(Text(note, style="yellow"))
