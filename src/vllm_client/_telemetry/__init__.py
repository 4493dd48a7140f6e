"""OpenTelemetry for the client: whether it is on, and the observer that does it.

Zero cost when unused. Nothing here imports ``opentelemetry``; the decision is taken once,
when a client is built, and a client without telemetry has no observer at all, so its
calls do no telemetry work (``tests/unit/test_telemetry_off.py`` checks that no
``opentelemetry`` module is imported by a call; the shared bench showed no change, see
the branch's report). Importing ``opentelemetry.trace`` + ``propagate`` costs ~28 ms, so
it must never happen for users who did not ask.

``telemetry``: ``True`` on (ImportError without the ``otel`` extra); ``False`` off; ``None``
(default) on when the application has set OpenTelemetry up by the time the client is built:
a ``tracer_provider`` / ``meter_provider`` was passed, or a global SDK provider is installed
(``opentelemetry-instrument`` or the app's own setup). The check imports nothing: without
``opentelemetry.trace`` / ``.metrics`` already in ``sys.modules`` no SDK can be installed; with
them, it compares the global providers with the API's no-op proxies. So a program that
merely imports the API, or sets an SDK up only later, gets no observer and pays nothing per
call (pass ``telemetry=True`` to trace through the global providers whenever they are set).
``OTEL_SDK_DISABLED=true`` turns the default off.
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
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true" or not _global_sdk():
            return None
    try:
        from .observer import OtelObserver
    except ImportError as exc:
        if telemetry is True or explicit:
            raise ImportError("telemetry needs OpenTelemetry: pip install 'vllm-client[otel]'") from exc
        return None
    return OtelObserver(tracer_provider, meter_provider)


def _global_sdk() -> bool:
    """Whether a real (SDK) tracer or meter provider is installed globally (modules already loaded)."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is not None and not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return True
    metrics = sys.modules.get("opentelemetry.metrics")
    return metrics is not None and type(metrics.get_meter_provider()).__name__ != "_ProxyMeterProvider"
