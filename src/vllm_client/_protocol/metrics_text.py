"""Prometheus text exposition -> ``{"name{labels}": value}``. Pure."""

from __future__ import annotations

__all__ = ["parse_prometheus"]


def parse_prometheus(text: str) -> dict[str, float]:
    """Samples keyed by their name with labels as written (``vllm:num_requests_running{...}``).
    Comments, ``# HELP``/``# TYPE`` lines and unparsable values are skipped."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "}" in line:
            end = line.rindex("}") + 1
            name, rest = line[:end], line[end:].split()
        else:
            parts = line.split()
            name, rest = parts[0], parts[1:]
        if not rest:
            continue
        try:
            out[name] = float(rest[0])
        except ValueError:
            continue
    return out
