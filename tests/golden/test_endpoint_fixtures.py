"""The real captures of issue 9's endpoints (LoRA, audio, binary embeddings, /v2/embed,
/tokenizer_info, chat batch, token generate, platform routes, /v1/messages), decoded by the
client's own result types and error mapping."""

from __future__ import annotations

import math
from typing import Any

import pytest
from golden_fixtures import load_fixture, request_bytes, response_bytes, response_headers

from vllm_client import (
    BadRequestError,
    ChatCompletion,
    Completion,
    EmbeddingResponse,
    InternalServerError,
    ModelNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    PoolingResult,
    StreamError,
    UnprocessableEntityError,
)
from vllm_client._errors import error_from_response
from vllm_client._json import loads
from vllm_client._protocol.anthropic import AnthropicMessage, MessagesStreamDecoder
from vllm_client._protocol.audio_types import AudioStreamDecoder, Transcription, Translation
from vllm_client._protocol.binary_pooling import decode_binary
from vllm_client._protocol.chat_batch import ChatCompletionBatch
from vllm_client._protocol.cohere import EmbedV2Result
from vllm_client._protocol.generate import GenerateResult, GenerateStreamDecoder, GenerateStreamEvent
from vllm_client._protocol.invocations import typed_answer
from vllm_client._protocol.types import ModelList
from vllm_client.testing._audio import parse_form


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


# --- audio -----------------------------------------------------------------------------------


def _feed(decoder: Any, fx: dict[str, Any]) -> list[Any]:
    """The capture's body fed to ``decoder`` in its socket reads, then closed."""
    body, events, at = response_bytes(fx), [], 0
    for size in fx["response"].get("chunk_sizes") or [len(response_bytes(fx))]:
        events += decoder.feed(body[at:at + size])
        at += size
    decoder.close()
    return events


def test_audio_json_answers() -> None:
    t = Transcription(loads(response_bytes(load_fixture("audio_transcription_json"))))
    assert t.text and t.usage is not None and (t.usage.type, t.usage.seconds) == ("duration", 2.0)
    as_text = load_fixture("audio_transcription_text")
    assert response_headers(as_text)["content-type"] == "application/json"  # "text" is JSON on vLLM
    assert Transcription(loads(response_bytes(as_text))).text == t.text
    verbose = Transcription(loads(response_bytes(load_fixture("audio_transcription_verbose_json"))))
    assert (verbose.language, verbose.duration, verbose.segments, verbose.usage) == ("en", 2.0, [], None)
    translated = Translation(loads(response_bytes(load_fixture("audio_translation_json"))))
    assert translated.text and translated.usage is None


@pytest.mark.parametrize("name", ["audio_transcription_stream", "audio_transcription_stream_continuous_usage",
                                  "audio_translation_stream"])
def test_audio_streams(name: str) -> None:
    fx = load_fixture(name)
    translation = "translation" in name
    decoder = AudioStreamDecoder(translation=translation)
    events = _feed(decoder, fx)
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("Finish") == 1 and kinds[-1] == "Done"
    assert ("Usage" in kinds) is (not translation)  # the translation capture did not ask for usage
    final = decoder.final()
    assert isinstance(final, Translation if translation else Transcription)
    assert final.text == "".join(e.text for e in events if type(e).__name__ == "Text") and final.text
    assert final.finish_reason == "length"
    if not translation:
        assert final.usage is not None and (final.usage.prompt_tokens, final.usage.completion_tokens) == (204, 12)


@pytest.mark.parametrize(("name", "cls", "message"), [
    ("audio_err_not_audio", BadRequestError, "Invalid or unsupported audio file."),
    ("audio_err_language", BadRequestError, "Unsupported language: 'xx'."),
    ("audio_err_format_srt", BadRequestError, "Currently only support response_format"),
    ("audio_err_stream_verbose_json", BadRequestError, "verbose_json format doesn't support streaming case"),
    ("audio_err_stream_options_without_stream", BadRequestError, "Stream options can only be defined"),
    ("audio_err_missing_file", BadRequestError, "Field required"),
    ("audio_err_file_as_string", UnprocessableEntityError, "Expected 'file' to be a file-like object"),
    ("audio_err_unknown_model", ModelNotFoundError, "The model `nope` does not exist."),
    ("audio_chat_unsupported", NotFoundError, "Not Found"),
])
def test_audio_errors(name: str, cls: type[Exception], message: str) -> None:
    err = _error(name)
    assert type(err) is cls and message in str(err)


def test_our_multipart_is_what_the_server_took() -> None:
    """The captured uploads were encoded by the client's own encoder; decode one back."""
    fx = load_fixture("audio_transcription_json")
    form = parse_form(fx["request"]["headers"]["content-type"], request_bytes(fx))
    assert form["language"] == "en" and form["file"].filename == "talk.wav" and form["file"].data[:4] == b"RIFF"


# --- binary embeddings, /v2/embed, /tokenizer_info -------------------------------------------


def _norm(v: list[float]) -> float:
    return math.sqrt(math.fsum(x * x for x in v))


@pytest.mark.parametrize(("name", "count", "tol"), [
    ("embed_bytes", 2, 1e-5), ("embed_bytes_only", 2, 1e-5), ("embed_bytes_fp8_big", 1, 0.1)])
def test_binary_embedding_captures(name: str, count: int, tol: float) -> None:
    fx = load_fixture(name)
    headers = response_headers(fx)
    assert headers["content-type"] == "application/octet-stream"
    assert ("metadata" in headers) is (name != "embed_bytes_only")
    resp = EmbeddingResponse(decode_binary(response_bytes(fx), headers, loads(request_bytes(fx))))
    assert len(resp.embeddings) == count and all(len(v) == 128 for v in resp.embeddings)
    assert all(abs(_norm(v) - 1.0) < tol for v in resp.embeddings)  # the embed model normalises
    if name == "embed_bytes":
        assert resp.model == "tiny" and resp.usage is not None and resp.usage.prompt_tokens == 14
        only = load_fixture("embed_bytes_only")  # the same request without the header: the same vectors
        again = decode_binary(response_bytes(only), response_headers(only), loads(request_bytes(only)))
        assert EmbeddingResponse(again).embeddings == resp.embeddings


def test_base64_bf16_big_endian_and_pooling_bytes() -> None:
    bf16 = EmbeddingResponse(loads(response_bytes(load_fixture("embed_base64_bf16_big"))), embed_dtype="bfloat16",
                             endianness="big")
    assert abs(_norm(bf16.embeddings[0]) - 1.0) < 0.02
    fx = load_fixture("embed_pooling_bytes")
    pooled = PoolingResult(decode_binary(response_bytes(fx), response_headers(fx), loads(request_bytes(fx)),
                                         object_name="pooling", key="data"))
    assert pooled.id.startswith("pooling-") and len(pooled.data[0].data) == 128


def test_v2_embed_captures() -> None:
    v2 = EmbedV2Result(loads(response_bytes(load_fixture("embed_v2_texts"))))
    assert v2.texts == ["hello world", "the capital of France"] and v2.input_tokens == 14
    assert v2.floats is not None and v2.base64 is not None and v2.ubinary is not None and v2.binary is not None
    for f, b in zip(v2.floats, v2.base64, strict=True):
        assert all(math.isclose(x, y, abs_tol=1e-6) for x, y in zip(f, b, strict=True))
    bits = "".join("1" if x > 0 else "0" for x in v2.floats[0])
    assert v2.ubinary[0] == [int(bits[i:i + 8], 2) for i in range(0, 128, 8)]
    assert v2.binary == [[u - 128 for u in row] for row in v2.ubinary]
    default = EmbedV2Result(loads(response_bytes(load_fixture("embed_v2_default"))))
    assert list(default.raw["embeddings"]) == ["float"] and len(default.embeddings[0]) == 128
    assert EmbedV2Result(loads(response_bytes(load_fixture("embed_v2_inputs")))).texts is None
    for name in ("embed_v2_input_type", "embed_v2_no_input", "embed_v2_two_inputs", "embed_v2_output_dimension",
                 "embed_v2_bad_type", "embed_v2_truncate_none_too_long"):
        assert type(_error(name)) is BadRequestError, name


def test_tokenizer_info_capture() -> None:
    info = loads(response_bytes(load_fixture("tokenizer_info")))
    assert info["tokenizer_class"] == "TokenizerPoolCachedQwen2Tokenizer" and info["eos_token"] == "<|im_end|>"
    assert info["added_tokens_decoder"]["4089"] == "<|im_end|>"
    assert type(_error("embed_tokenizer_info_disabled")) is NotFoundError


# --- chat batch, generate, invocations, elastic EP, /v1/messages ------------------------------


def test_chat_batch_capture() -> None:
    batch = ChatCompletionBatch(loads(response_bytes(load_fixture("chat_batch"))))
    assert [c.index for c in batch.choices] == [0, 1, 2] and all(batch.contents)
    assert batch.usage is not None and batch.usage.completion_tokens == 9  # 3 conversations x max_tokens 3
    trap = ChatCompletionBatch(loads(response_bytes(load_fixture("chat_batch_stream_silently_accepted"))))
    assert trap.usage is not None and trap.usage.completion_tokens == 3  # "stream": one chunk per choice left
    assert all(len(c or "") < len(b or "") for c, b in zip(trap.contents, batch.contents, strict=True))
    for name, param in (("chat_batch_n2", "n"), ("chat_batch_tool_choice", "body.tool_choice"),
                        ("chat_batch_empty_conversation", "body.messages.0")):
        err = _error(name)
        assert type(err) is BadRequestError and err.param == param


@pytest.mark.parametrize("name", ["generate_tokens", "generate_text", "generate_logprobs"])
def test_generate_captures(name: str) -> None:
    out = GenerateResult(loads(response_bytes(load_fixture(name))))
    assert out.request_id.startswith("generate-tokens-") and out.model == "tiny"
    assert out.token_ids and out.finish_reason == "length" and out.usage is not None
    assert out.usage.completion_tokens == len(out.token_ids)
    if name == "generate_text":
        assert out.text and out.prompt_token_ids == [4088, 872, 198, 3707] and out.output_mode == "text"
    if name == "generate_logprobs":
        entry = out.choices[0].logprobs["content"][0]  # type: ignore[index]
        assert entry["token_id"] == out.token_ids[0] and len(entry["top_logprobs"]) == 2


@pytest.mark.parametrize("name", ["generate_stream", "generate_stream_text"])
def test_generate_stream_captures(name: str) -> None:
    fx = load_fixture(name)
    decoder = GenerateStreamDecoder()
    events = _feed(decoder, fx)
    ids = [t for e in events if isinstance(e, GenerateStreamEvent.Tokens) for t in e.token_ids]
    final = decoder.final()
    assert final.token_ids == ids and len(ids) == 3 and final.finish_reason == "length"
    assert (final.usage is not None) is (name == "generate_stream")  # only that one asked for usage
    if name == "generate_stream_text":
        assert final.text and final.prompt_token_ids == [4088, 872, 198, 3707]
    plain = GenerateResult(loads(response_bytes(load_fixture("generate_tokens"))))
    assert ids == plain.token_ids[:3]  # the same seed streamed and not


def test_generate_errors_and_abort() -> None:
    assert type(_error("generate_disabled")) is PermissionDeniedError
    for name in ("generate_no_sampling_params", "generate_empty_token_ids", "generate_negative_token_id",
                 "generate_n_too_large"):
        assert type(_error(name)) is BadRequestError, name
    abort = load_fixture("generate_abort")
    assert abort["response"]["status"] == 200 and response_bytes(abort) == b""


def test_invocation_answers_are_typed_by_their_shape() -> None:
    assert isinstance(typed_answer(loads(response_bytes(load_fixture("invocations_chat")))), ChatCompletion)
    assert isinstance(typed_answer(loads(response_bytes(load_fixture("invocations_completion")))), Completion)
    assert isinstance(typed_answer(loads(response_bytes(load_fixture("embed_basic")))), EmbeddingResponse)
    assert _error("invocations_no_handler").param == "prompt"


def test_elastic_ep_captures() -> None:
    assert loads(response_bytes(load_fixture("elastic_ep_is_scaling"))) == {"is_scaling_elastic_ep": False}
    assert loads(response_bytes(load_fixture("elastic_ep_scale_same_size")))["message"] == (
        "Scaled to 1 data parallel engines")
    for name, cls in (("elastic_ep_missing_size", BadRequestError), ("elastic_ep_bad_size", BadRequestError),
                      ("elastic_ep_bad_drain", BadRequestError), ("elastic_ep_scale_up_fails", InternalServerError)):
        err = _error(name)
        assert type(err) is cls and err.error_type in ("Bad Request", "Internal Server Error")


def test_messages_captures() -> None:
    msg = AnthropicMessage(loads(response_bytes(load_fixture("messages_basic"))))
    assert msg.id.startswith("chatcmpl-") and msg.stop_reason == "max_tokens" and msg.text
    assert msg.usage is not None and msg.usage.output_tokens == 4 and "stop_sequence" not in msg.raw
    stopped = AnthropicMessage(loads(response_bytes(load_fixture("messages_stop_sequence"))))
    assert (stopped.stop_reason, stopped.stop_sequence) == ("stop_sequence", "e")
    fx = load_fixture("messages_stream")
    decoder = MessagesStreamDecoder()
    events = _feed(decoder, fx)
    assert events[0].type == "message_start" and decoder.done
    final = decoder.final()
    assert final.text == "".join(e.text or "" for e in events) and final.stop_reason == "max_tokens"
    assert final.usage is not None and final.usage.output_tokens == 3
    assert loads(response_bytes(load_fixture("messages_count_tokens")))["input_tokens"] == 31
    assert type(_error("messages_unknown_model")) is ModelNotFoundError
    assert _error("messages_missing_max_tokens").param == "body.max_tokens"


def test_messages_stream_cut_is_an_error() -> None:
    body = response_bytes(load_fixture("messages_stream"))
    decoder = MessagesStreamDecoder()
    decoder.feed(body[: body.index(b"event: message_stop")])
    with pytest.raises(StreamError, match="before message_stop"):
        decoder.close()
