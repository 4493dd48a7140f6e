"""The harness's server is the server the captures were made with.

tests/fixtures/real-vllm-0.32 was captured from a server built by other scripts; the harness
builds its own model (config, a tokenizer trained locally, a chat template). These tests
replay deterministic captures (tokenisation, the rendered prompt, seeded sampling) against
the harness's ``plain`` server and require the same answer, so a drift in the vocabulary,
the template or the flags shows here and not as puzzling failures elsewhere.
"""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .conftest import RealServer

from .conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "real-vllm-0.32"

#: every 200 /tokenize capture of the plain server: the answer must be identical
TOKENIZE = sorted(
    p.stem
    for p in FIXTURES.glob("tokenize_*.json")
    if json.loads(p.read_text())["response"]["status"] == 200
)
#: seeded / greedy chat captures: same text, token ids, usage and prompt
CHAT = ["chat_seeded_token_ids", "chat_return_token_ids", "chat_return_prompt_text", "chat_greedy", "chat_basic"]


def _replay(server: RealServer, name: str) -> tuple[Any, Any]:
    fx = json.loads((FIXTURES / f"{name}.json").read_text())
    req = fx["request"]
    http = urllib.request.Request(
        server.url + req["path"],
        data=req["body"].encode(),
        headers={"Content-Type": "application/json"},
        method=req["method"],
    )
    with urllib.request.urlopen(http, timeout=120) as resp:
        got = json.loads(resp.read())
    return got, json.loads(fx["response"]["body"])


def test_there_are_captures_to_replay() -> None:
    assert len(TOKENIZE) >= 4 and all((FIXTURES / f"{n}.json").is_file() for n in CHAT)


@pytest.mark.parametrize("name", TOKENIZE)
def test_tokenisation_matches_the_capture(vllm_plain: RealServer, name: str) -> None:
    got, want = _replay(vllm_plain, name)
    assert got == want


@pytest.mark.parametrize("name", CHAT)
def test_seeded_chat_matches_the_capture(vllm_plain: RealServer, name: str) -> None:
    got, want = _replay(vllm_plain, name)
    for key in ("usage", "prompt_token_ids", "prompt_text"):
        assert got.get(key) == want.get(key), key
    assert [c["message"] for c in got["choices"]] == [c["message"] for c in want["choices"]]
    assert [c.get("token_ids") for c in got["choices"]] == [c.get("token_ids") for c in want["choices"]]
