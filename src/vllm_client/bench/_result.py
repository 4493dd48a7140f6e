"""The outcome of a run: the result JSON (``vllm bench serve``'s keys where the meaning is
the same, ours besides), the records, and the writers for both files.

Result JSON, top level: ``date``, ``label``, ``backend`` ("vllm-client"), ``model_id``,
``base_urls``, the :mod:`._metrics` numbers, ``valid``/``invalid_reason`` (the self-audit,
:mod:`._audit`), ``client_cpu_util``, ``event_loop_lag_ms``, ``server_metrics`` (from
``/metrics``: :mod:`._server_metrics`; one object per server when there are several),
``warmup`` (count, excluded from everything), ``warnings``, and ``config``.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ._audit import Audit, verdict
from ._config import BenchConfig
from ._metrics import compute
from ._records import RequestRecord
from ._stats import percentile

__all__ = ["BenchResult", "build_result", "write_records"]


@dataclass
class BenchResult:
    """``data``: the result JSON's object (:meth:`to_dict`); ``records``: every request,
    warm-up ones included (``kind``)."""

    data: dict[str, Any]
    records: list[RequestRecord] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return bool(self.data.get("valid"))

    @property
    def invalid_reason(self) -> str | None:
        reason = self.data.get("invalid_reason")
        return reason if isinstance(reason, str) else None

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def write_json(self, path: str | os.PathLike[str]) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.data, f, indent=2, allow_nan=False, default=_jsonable)
            f.write("\n")

    def write_records(self, path: str | os.PathLike[str]) -> None:
        write_records(path, self.records)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_records(path: str | os.PathLike[str], records: Iterable[RequestRecord]) -> None:
    """The per-request JSONL: one :meth:`RequestRecord.to_dict` per line."""
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.to_dict(), allow_nan=False) + "\n")


def _steady(config: BenchConfig, measured: list[RequestRecord]) -> tuple[float, float] | None:
    """From the end of the ramp-up (or the first send) to the last send: requests in
    flight after it are the drain."""
    starts = [r.start_s for r in measured if r.start_s is not None]
    if len(starts) < 2:
        return None
    begin = max(min(starts), config.load.ramp_up)
    return (begin, max(starts))


def build_result(config: BenchConfig, records: list[RequestRecord], *, audit: Audit | None,
                 server_metrics: list[dict[str, Any] | None], base_urls: list[str], model: str | None,
                 routing: str | None = None, pool_limit: int | None = None) -> BenchResult:
    measured = [r for r in records if r.kind == "measured"]
    data: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "label": config.label,
        "backend": "vllm-client",
        "model_id": model,
        "base_urls": base_urls,
        "routing": routing if len(base_urls) > 1 else None,  # how the load was spread over them
    }
    data.update(compute(measured, slos=config.slos, bootstrap=config.bootstrap, seed=config.seed,
                        steady=_steady(config, measured)))
    lag = data["dispatch_lag_ms"].get("p99")
    cpu = audit.cpu_util if audit is not None else 0.0
    loop = None
    if audit is not None and audit.lags:
        loop = percentile(audit.lags, 99.0)
    valid, reason = verdict(None if lag is None else lag / 1000.0, cpu, lag_p99=config.audit_lag_p99,
                            cpu=config.audit_cpu, loop_lag_p99_s=loop)
    data["valid"] = valid
    data["invalid_reason"] = reason
    if audit is not None:
        data.update(audit.report())
    data["audit_thresholds"] = {"dispatch_lag_p99_ms": config.audit_lag_p99 * 1000.0,
                                "client_cpu_util": config.audit_cpu}
    if len(server_metrics) <= 1:
        data["server_metrics"] = server_metrics[0] if server_metrics else None
    else:
        data["server_metrics"] = dict(zip(base_urls, server_metrics, strict=False))
    warnings = []
    peak = data["max_concurrent_requests"]
    if pool_limit is not None and peak > pool_limit:
        warnings.append(f"{peak} requests were in flight at once but the client's connection pool holds "
                        f"{pool_limit}: the others waited for a connection inside the client, which shows as TTFT "
                        "(pass limits=Limits(max_connections=...) to the client)")
    data["warmup"] = sum(1 for r in records if r.kind == "warmup")
    data["warnings"] = warnings
    data["config"] = config.to_dict()
    return BenchResult(data, list(records))
