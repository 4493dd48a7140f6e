"""OpenTelemetry for the client: whether it is on, and the observer that does it.

Zero cost when unused. Nothing here imports ``opentelemetry``; the decision is taken once,
when a client is built, and a client without telemetry has no observer at all, so its
calls do no telemetry work (``tests/unit/test_telemetry_off.py`` checks that no
``opentelemetry`` module is imported by a call; the shared bench showed no change, see
the branch's report). Importing ``opentelemetry.trace`` + ``propagate`` costs ~28 ms, so
it must never happen for users who did not ask.

``telemetry``: ``True`` on (ImportError without the ``otel`` extra); ``False`` off; ``None``
(default) on when the application has set OpenTelemetry up: a ``tracer_provider`` /
``meter_provider`` was passed, or ``opentelemetry`` is already imported by the time the
client is built (an app that configured an SDK, or runs under ``opentelemetry-instrument``,
has necessarily imported it). In that ``None`` case each call also checks that a global
SDK provider is really installed (the API alone gives no-op proxies), so merely importing
OpenTelemetry costs one type check per call. ``OTEL_SDK_DISABLED=true`` turns it off.
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["telemetry_observer"]


def telemetry_observer(telemetry: bool | None, tracer_provider: Any = None, meter_provider: Any = None) -> Any:
    """The observer to install on a new client, or None for no telemetry."""
    if telemetry is False:
        return None
    explicit = tracer_provider is not None or meter_provider is not None
    if telemetry is None and not explicit:
        if "opentelemetry.trace" not in sys.modules and "opentelemetry.metrics" not in sys.modules:
            return None
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return None
    try:
        from .observer import OtelObserver
    except ImportError as exc:
        if telemetry is True or explicit:
            raise ImportError("telemetry needs OpenTelemetry: pip install 'vllm-client[otel]'") from exc
        return None
    return OtelObserver(tracer_provider, meter_provider, auto=telemetry is None and not explicit)
