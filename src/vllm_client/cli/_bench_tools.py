"""``bench compare``, ``bench sweep`` and ``bench calibrate``: the commands around ``bench serve``.

:func:`register` adds them to the ``bench`` group (which ``_bench`` owns, with ``serve``), so
this module loads only with ``vllm-client bench ...``. ``compare`` is the CI gate: it prints
the per-metric table on stdout (``--json``: the comparison as JSON) and exits 1 on a
regression beyond ``--threshold``, 0 otherwise, 2 on input it cannot read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from ._output import console, error_line, print_json

__all__ = ["compare_command", "load_records", "parse_threshold", "register"]

#: Exit status for input compare cannot read (1 is reserved for "regression").
EXIT_BAD_INPUT = 2


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


def register(bench: typer.Typer, names: Sequence[str] = ("compare",)) -> None:
    """Add this module's commands to the ``bench`` group."""
    if "compare" in names:
        bench.command("compare")(compare_command)
