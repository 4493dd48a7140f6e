"""The event-loop choice of the processes the library starts itself (bench, the emulator)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from vllm_client import _event_loop as ev


def test_names_resolve_and_auto_prefers_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ev.resolve("asyncio") == "asyncio"
    monkeypatch.setattr(ev, "_uvloop", lambda: None)  # not installed
    assert ev.resolve("auto") == "asyncio"
    with pytest.raises(ValueError, match=r"uvloop.*not installed.*vllm-client\[bench\]"):
        ev.resolve("uvloop")
    monkeypatch.setattr(ev, "_uvloop", object)  # installed: any module-like object
    assert ev.resolve("auto") == "uvloop" and ev.resolve("uvloop") == "uvloop"
    with pytest.raises(ValueError, match="one of auto, asyncio, uvloop"):
        ev.resolve("trio")


def test_run_returns_the_result_and_cancels_what_is_left() -> None:
    left: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            left.append("cancelled")
            raise

    async def main() -> str:
        asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(0)
        return ev.describe()

    assert ev.run(main(), "asyncio") == "asyncio"
    assert left == ["cancelled"]  # as asyncio.run does with tasks still pending


def test_run_on_uvloop_says_so() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> Any:
        return ev.describe(), type(asyncio.get_running_loop()).__module__

    name, module = ev.run(main(), "uvloop")
    assert name == f"uvloop {uvloop.__version__}" and module.startswith("uvloop")


def test_bench_config_checks_the_loop_name() -> None:
    from vllm_client.bench import BenchConfig

    BenchConfig(event_loop="asyncio").check()
    with pytest.raises(ValueError, match="event loop must be one of"):
        BenchConfig(event_loop="tokio").check()
