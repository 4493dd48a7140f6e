"""``client.lora`` (sync and async) against the emulator: load, list, use, unload, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vllm_client import BadRequestError, InternalServerError, ModelNotFoundError, NotFoundError
from vllm_client.testing import MockVllmServer


def adapter_dir(tmp_path: Path, rank: int = 8) -> Path:
    """An adapter directory as vLLM reads it (the emulator only reads its config)."""
    d = tmp_path / f"adapter-r{rank}"
    d.mkdir()
    (d / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": rank, "lora_alpha": 16,
                                                       "target_modules": ["q_proj"], "bias": "none"}))
    return d


def test_load_list_use_unload(api: Any, vllm_mock: MockVllmServer, tmp_path: Path) -> None:
    path = adapter_dir(tmp_path)
    assert api(api.client.chat.completions.create(messages=[{"role": "user", "content": "hi"}])).model == "mock-model"
    message = api(api.client.lora.load("sql", path))
    assert message == "Success: LoRA adapter 'sql' added successfully."
    assert vllm_mock.last_request.json == {"lora_name": "sql", "lora_path": str(path)}
    assert vllm_mock.last_request.path == "/v1/load_lora_adapter"
    models = api(api.client.models.list())
    assert models.ids == ["mock-model", "sql"]
    adapter = models[1]
    assert adapter.parent == "mock-model" and adapter.root == str(path) and adapter.max_model_len is None
    assert [m.id for m in api(api.client.lora.list())] == ["sql"]
    resp = api(api.client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], model="sql"))
    assert resp.model == "sql" and resp.content
    text = api(api.client.completions.create(prompt="SELECT", model="sql", max_tokens=3))
    assert text.model == "sql"
    # model=None keeps meaning the base model: an adapter is not a second model
    fresh = api.client.with_options()
    assert api(fresh.chat.completions.create(messages=[{"role": "user", "content": "x"}])).model == "mock-model"
    assert api(api.client.lora.unload("sql")) == "Success: LoRA adapter 'sql' removed successfully."
    assert vllm_mock.last_request.json == {"lora_name": "sql"}
    assert api(api.client.lora.list()) == []
    with pytest.raises(ModelNotFoundError):
        api(api.client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], model="sql"))


def test_errors_are_mapped_and_not_retried(api: Any, vllm_mock: MockVllmServer, tmp_path: Path) -> None:
    path = adapter_dir(tmp_path)
    api(api.client.lora.load("a", path))
    with pytest.raises(BadRequestError, match="has already been loaded") as twice:
        api(api.client.lora.load("a", path))
    assert twice.value.status_code == 400 and twice.value.error_type == "InvalidUserInput"
    assert api(api.client.lora.load("a", path, load_inplace=True)).startswith("Success")
    assert vllm_mock.last_request.json["load_inplace"] is True
    with pytest.raises(NotFoundError, match="No adapter found for /nowhere") as missing:
        api(api.client.lora.load("b", "/nowhere"))
    assert not isinstance(missing.value, ModelNotFoundError)
    with pytest.raises(BadRequestError, match="conflicts with a served base model"):
        api(api.client.lora.load("mock-model", path))
    with pytest.raises(NotFoundError, match="cannot be found"):
        api(api.client.lora.unload("never-loaded"))
    with pytest.raises(InternalServerError, match="max_lora_rank"):
        api(api.client.lora.load("big", adapter_dir(tmp_path, rank=64)))
    assert len(vllm_mock.requests_to("/v1/load_lora_adapter")) == 6  # none of them retried


def test_arguments_checked_before_sending(api: Any, vllm_mock: MockVllmServer) -> None:
    with pytest.raises(ValueError, match="name must not be empty"):
        api(api.client.lora.load("", "/p"))
    with pytest.raises(TypeError, match="path must be a str"):
        api(api.client.lora.load("x", 3))
    with pytest.raises(TypeError, match="unexpected keyword"):
        api(api.client.lora.unload("x", bogus=1))
    assert vllm_mock.requests == []


def test_preloaded_modules_and_disabled_routes(make_api: Any, tmp_path: Path) -> None:
    with MockVllmServer(lora_modules={"pre": "/srv/pre"}) as server:
        api = make_api(server.base_url)
        assert [(m.id, m.parent, m.root) for m in api(api.client.lora.list())] == [("pre", "mock-model", "/srv/pre")]
    with MockVllmServer(lora=False) as server:  # started without VLLM_ALLOW_RUNTIME_LORA_UPDATING
        api = make_api(server.base_url)
        with pytest.raises(NotFoundError) as err:
            api(api.client.lora.load("x", adapter_dir(tmp_path)))
        assert err.value.hint is not None and "VLLM_ALLOW_RUNTIME_LORA_UPDATING" in err.value.hint
