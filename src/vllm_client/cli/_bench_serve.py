"""``bench serve``: one load run against the server(s), a console summary, the result JSON
and the per-request JSONL. The library (:mod:`vllm_client.bench`) does everything; this maps
flags to a :class:`~vllm_client.bench.BenchConfig` and prints.

Exit status: 0, 1 on an error before or outside the run, 3 when the run is invalid (the
client was the bottleneck: the reason is printed in red).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from .._event_loop import run as run_on_loop
from ._app import LOOP_HELP, ROUTING_HELP, Globals, checked_loop, checked_routing, client_command
from ._bench import bench_app
from ._output import console

EXIT_INVALID = 3
_W = "Workload"
_L = "Load"
_O = "Output"


@client_command("serve", group=bench_app)
def serve(
    opts: Globals,
    dataset: Annotated[str, typer.Option("--dataset", "-d", rich_help_panel=_W, help=(
        "random, shared-prefix, multi-turn, sharegpt:PATH, batch:PATH, prompts:PATH."))] = "random",
    endpoint: Annotated[str, typer.Option("--endpoint", rich_help_panel=_W,
                                          help="chat, completions or responses.")] = "chat",
    input_len: Annotated[int, typer.Option("--input-len", min=1, rich_help_panel=_W,
                                           help="Prompt tokens (multi-turn: per turn; shared-prefix: suffix).")] = 512,
    output_len: Annotated[int | None, typer.Option("--output-len", min=1, rich_help_panel=_W, help=(
        "Tokens asked per request. Default: 128 synthetic, the file's own for files."))] = None,
    range_ratio: Annotated[float, typer.Option("--range-ratio", min=0.0, max=0.99, rich_help_panel=_W,
                                               help="Lengths uniform in [L(1-r), L(1+r)].")] = 0.0,
    prefix_len: Annotated[int, typer.Option("--prefix-len", min=1, rich_help_panel=_W,
                                            help="shared-prefix: tokens per prefix.")] = 256,
    num_prefixes: Annotated[int, typer.Option("--num-prefixes", min=1, rich_help_panel=_W,
                                              help="shared-prefix: distinct prefixes.")] = 4,
    turns: Annotated[int, typer.Option("--turns", min=1, rich_help_panel=_W,
                                       help="multi-turn: turns per session.")] = 5,
    think_time: Annotated[float, typer.Option("--think-time", min=0.0, rich_help_panel=_W,
                                              help="multi-turn: seconds between an answer and the next turn.")] = 0.0,
    think_exponential: Annotated[bool, typer.Option("--think-exponential", rich_help_panel=_W,
                                                    help="Think times exponential with that mean.")] = False,
    ignore_eos: Annotated[bool | None, typer.Option("--ignore-eos/--no-ignore-eos", rich_help_panel=_W, help=(
        "Answers as long as asked. Default: on for synthetic datasets, off for files."))] = None,
    extra_body: Annotated[str | None, typer.Option("--extra-body", metavar="JSON", rich_help_panel=_W,
                                                   help="Extra request fields, e.g. '{\"temperature\": 0}'.")] = None,
    rate: Annotated[float, typer.Option("--rate", rich_help_panel=_L, help=(
        "Requests/s (open loop); inf: as fast as the cap allows."))] = math.inf,
    burstiness: Annotated[float, typer.Option("--burstiness", rich_help_panel=_L, help=(
        "Gamma shape of the gaps: 1 Poisson, <1 burstier, inf constant."))] = 1.0,
    users: Annotated[int | None, typer.Option("--users", min=1, rich_help_panel=_L,
                                              help="Closed loop: N users (ignores --rate).")] = None,
    max_concurrency: Annotated[int | None, typer.Option("--max-concurrency", "-c", min=1, rich_help_panel=_L, help=(
        "Cap on requests in flight (waiting for it is measured and reported)."))] = None,
    ramp_up: Annotated[float, typer.Option("--ramp-up", min=0.0, rich_help_panel=_L,
                                           help="Seconds of linear ramp-up (rate, or user starts).")] = 0.0,
    ramp_up_from: Annotated[float, typer.Option("--ramp-up-from", min=0.0, rich_help_panel=_L,
                                                help="Rate at the start of the ramp-up.")] = 0.0,
    num_requests: Annotated[int | None, typer.Option("--num-requests", "-n", min=1, rich_help_panel=_L, help=(
        "Measured requests. Default: 100, or unlimited with --duration."))] = None,
    duration: Annotated[float | None, typer.Option("--duration", min=0.001, rich_help_panel=_L,
                                                   help="Stop sending after this many seconds.")] = None,
    warmup: Annotated[int, typer.Option("--warmup", min=0, rich_help_panel=_L,
                                        help="Warm-up requests first, excluded from the results.")] = 0,
    first_token_timeout: Annotated[float | None, typer.Option("--first-token-timeout", rich_help_panel=_L,
                                                              help="Seconds to the first token.")] = None,
    idle_timeout: Annotated[float | None, typer.Option("--idle-timeout", rich_help_panel=_L,
                                                       help="Longest gap between stream events.")] = None,
    request_timeout: Annotated[float, typer.Option("--request-timeout", rich_help_panel=_L,
                                                   help="Seconds per request, all included.")] = 600.0,
    slo: Annotated[list[str] | None, typer.Option("--slo", metavar="METRIC=SECONDS", rich_help_panel=_L, help=(
        "Goodput SLO (repeatable): ttft, tpot, e2el, itl; e.g. --slo ttft=0.5 --slo tpot=50ms."))] = None,
    seed: Annotated[int, typer.Option("--seed", rich_help_panel=_L, help="Seed of prompts and arrivals.")] = 0,
    result: Annotated[Path | None, typer.Option("--result", rich_help_panel=_O, help="Write the result JSON.")] = None,
    requests: Annotated[Path | None, typer.Option("--requests", rich_help_panel=_O,
                                                  help="Write one JSON line per request.")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", rich_help_panel=_O, help=(
        "Write PNG plots into this directory (needs vllm-client[bench])."))] = None,
    label: Annotated[str | None, typer.Option("--label", rich_help_panel=_O, help="A name kept in the result.")] = None,
    progress: Annotated[str, typer.Option("--progress", rich_help_panel=_O,
                                          help="auto, rich, plain or none.")] = "auto",
    json_out: Annotated[bool, typer.Option("--json", rich_help_panel=_O,
                                           help="Print the result JSON on stdout instead of the summary.")] = False,
    scrape_interval: Annotated[float, typer.Option("--scrape-interval", min=0.0, rich_help_panel=_O, help=(
        "Seconds between /metrics scrapes (0: start and end only)."))] = 1.0,
    no_scrape: Annotated[bool, typer.Option("--no-scrape", rich_help_panel=_O, help="Do not read /metrics.")] = False,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=0, rich_help_panel=_O,
                                           help="Bootstrap replicates for the CIs (0: none).")] = 1000,
    audit_lag_ms: Annotated[float, typer.Option("--audit-lag-ms", rich_help_panel=_O,
                                                help="Invalid above this dispatch-lag p99.")] = 10.0,
    audit_cpu: Annotated[float, typer.Option("--audit-cpu", rich_help_panel=_O,
                                             help="Invalid above this client CPU (cores).")] = 0.9,
    workers: Annotated[int, typer.Option("--workers", min=1, rich_help_panel=_L, help=(
        "Spread the load over N processes (when one cannot keep up)."))] = 1,
    loop: Annotated[str, typer.Option("--loop", callback=checked_loop, help=LOOP_HELP, rich_help_panel=_L)] = "asyncio",
    routing: Annotated[str | None, typer.Option("--routing", callback=checked_routing, help=ROUTING_HELP,
                                                rich_help_panel=_L)] = None,
) -> None:
    """Run a load against the server and report what the server did (TTFT, TPOT, ITL, throughput, goodput)."""
    from ..bench import BenchConfig, Limits, Load, Workload, parse_slo

    if endpoint not in ("chat", "completions", "responses"):
        raise ValueError(f"--endpoint must be chat, completions or responses, got {endpoint!r}")
    extra: dict[str, Any] = {}
    if extra_body:
        extra = json.loads(extra_body)
        if not isinstance(extra, dict):
            raise ValueError("--extra-body must be a JSON object")
    config = BenchConfig(
        workload=Workload(dataset=dataset, endpoint=endpoint, input_len=input_len,  # type: ignore[arg-type]
                          output_len=output_len, range_ratio=range_ratio, prefix_len=prefix_len,
                          num_prefixes=num_prefixes, turns=turns, think_time=think_time,
                          think_time_dist="exponential" if think_exponential else "constant", ignore_eos=ignore_eos,
                          model=opts.model, extra_body=extra),
        load=Load(rate=rate, burstiness=burstiness, users=users, max_concurrency=max_concurrency, ramp_up=ramp_up,
                  ramp_up_from=ramp_up_from, num_requests=num_requests if num_requests or duration else 100,
                  duration=duration, warmup=warmup),
        limits=Limits(connect=opts.timeout or 10.0, first_token=first_token_timeout, idle=idle_timeout,
                      total=request_timeout),
        slos=dict(parse_slo(s) for s in slo or ()), seed=seed, scrape_interval=scrape_interval,
        scrape_metrics=not no_scrape, bootstrap=bootstrap, audit_lag_p99=audit_lag_ms / 1000.0, audit_cpu=audit_cpu,
        label=label, workers=workers, event_loop=loop,
    )
    config.check()
    if plot is not None:
        from ._bench_tools import need_matplotlib

        need_matplotlib()  # before the run, not after it
    setting: Any = {"auto": None, "rich": "rich", "plain": "plain", "none": False}.get(progress)
    out = run_on_loop(_run(opts, config, setting, routing), config.event_loop)
    if result is not None:
        out.write_json(result)
    if requests is not None:
        out.write_records(requests)
    data = out.to_dict()
    if plot is not None:
        from ..bench._plots import plot_run
        from ._output import notice

        notice(f"wrote {len(plot_run(data, out.records, plot))} plots into {plot}")
    if json_out:
        print(json.dumps(data, indent=2, allow_nan=False))
    else:
        print_summary(data)
    if not out.valid:
        raise typer.Exit(EXIT_INVALID)


async def _run(opts: Globals, config: Any, progress: Any, routing: str | None = None) -> Any:
    from .._async.client import AsyncVllmClient
    from .._config import Limits as PoolLimits
    from ..bench import arun_bench

    urls = [u for u in (opts.base_url or "").split(",") if u] or None
    cap = config.load.max_concurrency or config.load.users or 10_000
    async with AsyncVllmClient(urls, api_key=opts.api_key, max_retries=0, routing=routing,
                               limits=PoolLimits(max_connections=max(256, cap), max_keepalive=max(64, cap))) as client:
        return await arun_bench(client, config, progress=progress)


def print_summary(data: dict[str, Any]) -> None:
    """The console summary on stdout; an invalid run's reason in red on stderr, loudly."""
    from rich.table import Table
    from rich.text import Text

    from ..bench._summary import summary_rows

    out = console()
    for title, rows in summary_rows(data):
        table = Table(title=title, show_header=False, title_justify="left", box=None, pad_edge=False)
        table.add_column(justify="left")
        table.add_column(justify="right")
        for name, value in rows:
            table.add_row(name, value)
        out.print(table)
    for warning in data.get("warnings") or ():
        console(stderr=True).print(Text(f"warning: {warning}", style="yellow"))
    if not data.get("valid"):
        err = console(stderr=True)
        err.print(Text("INVALID RUN: the client, not the server, was the bottleneck", style="bold red"))
        err.print(Text(str(data.get("invalid_reason")), style="red"))
