"""The one place that chooses the JSON library for dicts.

orjson, chosen by measurement (``../shared/bench``): it halves the per-chunk decode
cost of ``json.loads`` on vLLM's stream chunks and serialises request bodies straight
to bytes. Everything else imports ``dumps``/``loads`` from here. The one exception is
the plain stream chunk, decoded by msgspec into typed structs
(:mod:`._protocol.plain_chunks`, which says what was measured).
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["JSONDecodeError", "dumps", "dumps_str", "loads"]

loads = orjson.loads
JSONDecodeError = orjson.JSONDecodeError


def dumps(obj: Any) -> bytes:
    """Serialise to compact UTF-8 JSON bytes (non-str dict keys allowed, e.g. logit_bias ids)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def dumps_str(obj: Any) -> str:
    return dumps(obj).decode()
