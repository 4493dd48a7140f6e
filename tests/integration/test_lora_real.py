"""``client.lora`` against a real vLLM 0.32 with runtime LoRA updating (variant ``extras``).

The adapters are written here (harness/tiny_lora.py: safetensors with the standard library,
nothing downloaded). A zero adapter leaves greedy output unchanged, a random one changes it:
that is how the tests see the adapter really applied. The raw answers are captured too
(``VLLM_IT_CAPTURE=1`` writes them to the fixtures: lora_*.json).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from vllm_client import BadRequestError, InternalServerError, ModelNotFoundError, NotFoundError

from .capture import capture, json_of
from .harness.tiny_lora import write_adapter

MSGS = [{"role": "user", "content": "Write a SQL query."}]
GREEDY: dict[str, Any] = {"max_tokens": 8, "temperature": 0, "return_token_ids": True}


def _ids(resp: Any) -> list[int]:
    return list(resp.choices[0].token_ids or [])


def test_load_use_and_unload_an_adapter(vllm_extras: Any, tmp_path: Path) -> None:
    srv = vllm_extras
    sql = write_adapter(tmp_path / "sql", rank=8, seed=1)
    zero = write_adapter(tmp_path / "zero", rank=8, scale=0.0)
    with srv.client() as client:
        base = _ids(client.chat.completions.create(messages=MSGS, **GREEDY))
        assert client.lora.load("sql", sql) == "Success: LoRA adapter 'sql' added successfully."
        assert client.lora.load("zero", str(zero)).endswith("added successfully.")
        models = client.models.list()
        assert models.ids[0] == "tiny" and {"sql", "zero"} <= set(models.ids)
        card = next(m for m in models if m.id == "sql")
        assert (card.parent, card.root, card.max_model_len) == ("tiny", str(sql), None)
        assert {m.id for m in client.lora.list()} >= {"sql", "zero"}
        adapted = client.chat.completions.create(messages=MSGS, model="sql", **GREEDY)
        assert adapted.model == "sql" and len(_ids(adapted)) == 8
        assert _ids(adapted) != base  # the adapter's weights are applied
        assert _ids(client.chat.completions.create(messages=MSGS, model="zero", **GREEDY)) == base
        text = client.completions.create(prompt="SELECT", model="sql", max_tokens=3)
        assert text.model == "sql" and text.usage is not None and text.usage.completion_tokens == 3
        # model=None still means the base model with adapters listed beside it
        assert client.with_options().chat.completions.create(messages=MSGS, max_tokens=1).model == "tiny"
        assert client.lora.unload("zero") == "Success: LoRA adapter 'zero' removed successfully."
        assert "zero" not in client.models.list().ids
        with pytest.raises(ModelNotFoundError, match="zero"):
            client.chat.completions.create(messages=MSGS, model="zero", max_tokens=1)
        client.lora.unload("sql")


def test_errors_are_mapped(vllm_extras: Any, tmp_path: Path) -> None:
    srv = vllm_extras
    path = write_adapter(tmp_path / "dup")
    with srv.client() as client:
        client.lora.load("dup", path)
        try:
            with pytest.raises(BadRequestError, match="has already been loaded") as twice:
                client.lora.load("dup", path)
            assert twice.value.status_code == 400 and twice.value.error_type == "InvalidUserInput"
            assert client.lora.load("dup", path, load_inplace=True).startswith("Success")
            with pytest.raises(NotFoundError, match="No adapter found") as missing:
                client.lora.load("ghost", tmp_path / "nowhere")
            assert not isinstance(missing.value, ModelNotFoundError)
            with pytest.raises(BadRequestError, match="conflicts with a served base model"):
                client.lora.load("tiny", path)
            with pytest.raises(InternalServerError, match="max_lora_rank"):
                client.lora.load("big", write_adapter(tmp_path / "big", rank=16))
            with pytest.raises(NotFoundError, match="cannot be found"):
                client.lora.unload("never-loaded")
        finally:
            client.lora.unload("dup")


def test_async_client(vllm_extras: Any, tmp_path: Path) -> None:
    path = write_adapter(tmp_path / "a", seed=3)

    async def main() -> None:
        async with vllm_extras.aclient() as client:
            assert (await client.lora.load("async-a", path)).startswith("Success")
            resp = await client.chat.completions.create(messages=MSGS, model="async-a", max_tokens=2)
            assert resp.model == "async-a"
            assert [m.id for m in await client.lora.list()] == ["async-a"]
            assert (await client.lora.unload("async-a")).startswith("Success")

    asyncio.run(main())


def test_captures(vllm_extras: Any, tmp_path: Path) -> None:
    """The raw answers (the fixtures lora_*.json): plain text without a content type on success."""
    srv = vllm_extras
    path = str(write_adapter(tmp_path / "cap", seed=5))
    load = "/v1/load_lora_adapter"
    ok = capture(srv, "lora_load", "POST", load, body={"lora_name": "sql", "lora_path": path})
    assert ok["response"]["status"] == 200
    assert ok["response"]["body"] == "Success: LoRA adapter 'sql' added successfully."
    assert "content-type" not in dict(ok["response"]["headers"])
    twice = capture(srv, "lora_load_twice", "POST", load, body={"lora_name": "sql", "lora_path": path})
    assert twice["response"]["status"] == 400 and json_of(twice)["error"]["type"] == "InvalidUserInput"
    bad = capture(srv, "lora_load_bad_path", "POST", load,
                  body={"lora_name": "ghost", "lora_path": "/nonexistent/adapter"})
    assert bad["response"]["status"] == 404
    assert json_of(bad)["error"]["message"] == "Loading lora ghost failed: No adapter found for /nonexistent/adapter"
    big = capture(srv, "lora_load_rank_too_big", "POST", load,
                  body={"lora_name": "big", "lora_path": str(write_adapter(tmp_path / "big16", rank=16))})
    assert big["response"]["status"] == 500
    missing = capture(srv, "lora_load_missing_path", "POST", load, body={"lora_name": "x"})
    assert missing["response"]["status"] == 400
    models = json_of(capture(srv, "lora_models", "GET", "/v1/models"))
    assert [(m["id"], m["parent"]) for m in models["data"]] == [("tiny", None), ("sql", "tiny")]
    chat = capture(srv, "lora_chat", "POST", "/v1/chat/completions",
                   body={"model": "sql", "messages": MSGS, "max_tokens": 4, "seed": 1})
    assert json_of(chat)["model"] == "sql"
    unload = capture(srv, "lora_unload", "POST", "/v1/unload_lora_adapter", body={"lora_name": "sql"})
    assert unload["response"]["body"] == "Success: LoRA adapter 'sql' removed successfully."
    unknown = capture(srv, "lora_unload_unknown", "POST", "/v1/unload_lora_adapter", body={"lora_name": "sql"})
    assert unknown["response"]["status"] == 404
