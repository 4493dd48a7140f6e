"""The one place that chooses the JSON library.

orjson, chosen by measurement (``../shared/bench``): it halves the per-chunk decode
cost of ``json.loads`` on vLLM's stream chunks and serialises request bodies straight
to bytes. Everything else imports ``dumps``/``loads`` from here.
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
