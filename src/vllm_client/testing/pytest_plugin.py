"""pytest plugin (entry point `pytest11: vllm_client`): the `vllm_mock` fixture.

A fresh `MockVllmServer` per test, started before and stopped after it, so tests
never share scripted faults or recorded requests. Customise it by overriding the
`vllm_mock_options` fixture (keyword arguments for MockVllmServer).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ._server import MockVllmServer


@pytest.fixture
def vllm_mock_options() -> dict[str, Any]:
    """Keyword arguments for the `vllm_mock` server; override in a conftest or module."""
    return {}


@pytest.fixture
def vllm_mock(vllm_mock_options: dict[str, Any]) -> Iterator[MockVllmServer]:
    """A running MockVllmServer on 127.0.0.1 (free port), stopped after the test."""
    server = MockVllmServer(**vllm_mock_options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
