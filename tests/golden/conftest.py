"""Loader for the real vLLM 0.32 captures in ``tests/fixtures/real-vllm-0.32``.

Golden tests decode those exact bytes, so they pin our decoding to what a real server
sends rather than to what we believe it sends. Each capture is one JSON file with
``request`` (method, path, headers, body text) and ``response`` (status, headers as
``[[name, value], ...]`` in wire order, body text that ``.encode()``s to the exact bytes,
``chunk_sizes`` = the socket reads of a stream); see the directory's README.

Usable two ways:

* pytest fixtures ``load_fixture`` (the loader function) and ``fixtures_dir``;
* parametrisation by argument name (resolved at collection, via ``pytest_generate_tests``):
  a test taking ``golden_name`` runs once per capture, ``golden_stream`` once per SSE
  capture of ``/v1/chat/completions`` or ``/v1/completions``, and ``golden_pair`` once per
  ``(stream_name, nonstream_name)`` pair of captures of the same request.

Set ``VLLM_CLIENT_FIXTURES`` to use another copy. The captures are part of the repository:
when they are missing, collection fails (nothing skips).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from golden_fixtures import FIXTURES_DIR, fixture_names, load_fixture, stream_fixture_names, stream_pairs


@pytest.fixture(name="load_fixture")
def _load_fixture_fixture() -> Callable[[str], dict[str, Any]]:
    return load_fixture


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES_DIR


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for arg, values in (
        ("golden_name", fixture_names),
        ("golden_stream", stream_fixture_names),
        ("golden_pair", stream_pairs),
    ):
        if arg in metafunc.fixturenames:
            found = values()
            if not found:
                raise pytest.UsageError(f"{metafunc.function.__name__}: no captures for {arg} in {FIXTURES_DIR}")
            ids = ["-".join(v) if isinstance(v, tuple) else v for v in found]
            metafunc.parametrize(arg, found, ids=ids)
