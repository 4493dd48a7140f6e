"""The real captures of issue 9's endpoints (LoRA, audio, binary embeddings, /v2/embed,
/tokenizer_info, chat batch, token generate, platform routes, /v1/messages), decoded by the
client's own result types and error mapping."""

from __future__ import annotations

from typing import Any

import pytest
from golden_fixtures import load_fixture, response_bytes, response_headers

from vllm_client import BadRequestError, InternalServerError, ModelNotFoundError, NotFoundError
from vllm_client._errors import error_from_response
from vllm_client._json import loads
from vllm_client._protocol.types import ChatCompletion, ModelList


def _error(name: str) -> Any:
    fx = load_fixture(name)
    return error_from_response(fx["response"]["status"], response_headers(fx), response_bytes(fx))


# --- LoRA ------------------------------------------------------------------------------------


def test_lora_success_bodies_are_plain_text() -> None:
    for name, verb in (("lora_load", "added"), ("lora_unload", "removed")):
        fx = load_fixture(name)
        assert "content-type" not in response_headers(fx)
        assert response_bytes(fx).decode() == f"Success: LoRA adapter 'sql' {verb} successfully."


@pytest.mark.parametrize(("name", "cls", "etype"), [
    ("lora_load_twice", BadRequestError, "InvalidUserInput"),
    ("lora_load_missing_path", BadRequestError, "Bad Request"),
    ("lora_load_bad_path", NotFoundError, "NotFoundError"),
    ("lora_unload_unknown", NotFoundError, "NotFoundError"),
    ("lora_load_rank_too_big", InternalServerError, "InternalServerError"),
])
def test_lora_errors(name: str, cls: type[Exception], etype: str) -> None:
    err = _error(name)
    assert type(err) is cls and err.error_type == etype
    assert not isinstance(err, ModelNotFoundError)  # an adapter path is not a model name


def test_lora_adapters_listed_with_their_parent() -> None:
    models = ModelList(loads(response_bytes(load_fixture("lora_models"))))
    base, adapter = models
    assert (base.id, base.parent, base.max_model_len) == ("tiny", None, 2048)
    assert (adapter.id, adapter.parent, adapter.max_model_len) == ("sql", "tiny", None)
    assert adapter.root and adapter.root.endswith("/cap")
    chat = ChatCompletion(loads(response_bytes(load_fixture("lora_chat"))))
    assert chat.model == "sql" and chat.content is not None and chat.usage is not None
