"""Real vLLM 0.32 streams with and without the typed plain-chunk path (msgspec): the
events and the assembled answer must be identical, and the typed path must carry the
bulk of a plain stream (or it would be measuring nothing)."""

from __future__ import annotations

from typing import Any

from vllm_client._protocol.stream_decoder import ChatStreamDecoder, CompletionStreamDecoder


def _decode(fx: dict[str, Any], *, typed: bool) -> tuple[list[Any], Any, ChatStreamDecoder | CompletionStreamDecoder]:
    chat = fx["request"]["path"] == "/v1/chat/completions"
    dec: ChatStreamDecoder | CompletionStreamDecoder = ChatStreamDecoder() if chat else CompletionStreamDecoder()
    if not typed:
        dec._decode_plain = None
    body: bytes = fx["response"]["body"].encode("utf-8")
    events: list[Any] = []
    start = 0
    for size in fx["response"].get("chunk_sizes") or [len(body)]:
        events += dec.feed(body[start : start + size])
        start += size
    events += dec.feed(body[start:])
    return events, dec.final().raw, dec


def test_typed_path_changes_nothing(golden_stream: str, load_fixture: Any) -> None:
    fx = load_fixture(golden_stream)
    typed_events, typed_raw, typed = _decode(fx, typed=True)
    plain_events, plain_raw, untyped = _decode(fx, typed=False)
    assert typed_events == plain_events
    assert typed_raw == plain_raw
    assert typed.chunks == untyped.chunks and untyped.plain_chunks == 0


def test_typed_path_carries_plain_streams(load_fixture: Any) -> None:
    for name in ("chat_stream", "chat_n2_stream", "qwen3_plain_stream", "completions_stream",
                 "chat_stream_continuous_usage"):
        _, _, dec = _decode(load_fixture(name), typed=True)
        # all but the first chunk of each choice, finish chunks and the usage chunk
        assert dec.plain_chunks >= dec.chunks // 2 > 0, name
