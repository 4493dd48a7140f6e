"""Our Prometheus text parser against prometheus_client's, the official one (the oracle)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vllm_client._protocol.metrics_text import parse_prometheus, parse_samples
from vllm_client.testing._prom import EngineMetrics

parser = pytest.importorskip("prometheus_client.parser")

FIXTURES = Path(__file__).parents[1] / "fixtures" / "real-vllm-0.32"


def oracle(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, dict(s.labels), s.value) for family in parser.text_string_to_metric_families(text)
            for s in family.samples]


def same(ours: list[tuple[str, dict[str, str], float]], theirs: list[tuple[str, dict[str, str], float]]) -> bool:
    def key(sample: tuple[str, dict[str, str], float]) -> tuple[str, tuple[tuple[str, str], ...], str]:
        name, labels, value = sample
        return name, tuple(sorted(labels.items())), "nan" if math.isnan(value) else repr(value)

    return sorted(map(key, ours)) == sorted(map(key, theirs))


def real_bodies() -> list[str]:
    bodies = []
    for name in ("metrics_first_3kb.json", "metrics_full.json"):
        path = FIXTURES / name
        if path.exists():
            body = json.loads(path.read_text())["response"]["body"]
            bodies.append(body[: body.rindex("\n") + 1])  # a capture cut mid-line: whole lines only
    return bodies


@pytest.mark.parametrize("body", real_bodies(), ids=lambda b: f"{len(b)}B")
def test_real_vllm_scrape(body: str) -> None:
    ours = parse_samples(body)
    assert len(ours) > 10 and same(ours, oracle(body))


def test_emulator_scrape() -> None:
    metrics = EngineMetrics(8)
    metrics.finished("tiny", prompt="x", prompt_tokens=40, generation_tokens=9, reasons=["stop"], e2e_s=0.4,
                     ttft_s=0.05)
    metrics.finished("tiny", prompt="x", prompt_tokens=40, generation_tokens=3, reasons=["length"], e2e_s=9.0,
                     ttft_s=2.0)
    text = metrics.render(["tiny"], running=2).decode()
    ours = parse_samples(text)
    assert same(ours, oracle(text))
    assert ("vllm:prefix_cache_hits_total", {"engine": "0", "model_name": "tiny"}, 32.0) in ours  # 2 blocks
    flat = parse_prometheus(text)
    assert flat['vllm:e2e_request_latency_seconds_count{engine="0",model_name="tiny"}'] == 2.0


label_values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from('\\"\n'),
                       max_size=12)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@given(st.lists(st.tuples(st.sampled_from(["a", "b_total", "c:d"]),
                          st.dictionaries(st.sampled_from(["x", "y", "model_name"]), label_values, max_size=3),
                          st.floats(allow_nan=False, width=32) | st.sampled_from([math.inf, -math.inf])),
                max_size=6))
def test_generated_exposition(samples: list[tuple[str, dict[str, str], float]]) -> None:
    lines = []
    for name, labels, value in samples:
        body = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        number = "+Inf" if value == math.inf else "-Inf" if value == -math.inf else repr(value)
        lines.append(f"{name}{{{body}}} {number}" if labels else f"{name} {number}")
    text = "".join(f"{line}\n" for line in lines)
    assert same(parse_samples(text), oracle(text))


def test_malformed_lines_are_skipped() -> None:
    text = 'ok 1\nbroken{a="x" 2\nnovalue{a="x"}\nbad 1.2.3\n# HELP x y\nfine{a="q\\"z"} 3 1700000000\n'
    assert parse_samples(text) == [("ok", {}, 1.0), ("fine", {"a": 'q"z'}, 3.0)]


def test_emulator_series_are_real_ones() -> None:
    """Every series the emulator serves exists in the real scrape: same names, labels, buckets."""
    path = FIXTURES / "metrics_full.json"
    real = {(name, tuple(sorted(labels.items()))) for name, labels, _ in parse_samples(
        json.loads(path.read_text())["response"]["body"])}
    ours = {(name, tuple(sorted(labels.items()))) for name, labels, _ in parse_samples(
        EngineMetrics(8).render(["tiny"], 0).decode())}
    assert ours <= real, ours - real
    assert len(ours) > 90
