"""The server variants the integration tests use: THE table (add a row for a new one).

Every variant serves the tiny model as ``tiny`` on 127.0.0.1 with the common flags of
server.py; a row adds its own ``vllm serve`` flags, an API key, environment, or a different KV
cache size. Examples of rows to come: ``Variant("lora", "...", ("--enable-lora",
"--lora-modules", ...))``, ``Variant("otel", "...", ("--otlp-traces-endpoint",
"http://127.0.0.1:4317"))``, ``Variant("smallkv", "...", kv_cache_bytes=8 << 20)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: default --kv-cache-memory-bytes: 128 MiB (vLLM's CPU default is GiBs)
KV_CACHE_BYTES = 128 << 20


def _json_arg(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class Variant:
    name: str
    purpose: str
    args: tuple[str, ...] = ()
    api_key: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    kv_cache_bytes: int = KV_CACHE_BYTES
    #: which tiny model it serves: "tiny" (tiny_model.py, served as "tiny") or "whisper"
    #: (tiny_whisper.py, served as "whisper"); its own flags may override the common ones
    model: str = "tiny"

    def serve_args(self) -> list[str]:
        """This variant's own flags (after the common ones)."""
        key = ["--api-key", self.api_key] if self.api_key else []
        return ["--kv-cache-memory-bytes", str(self.kv_cache_bytes), *key, *self.args]


#: xgrammar without free whitespace, so that a schema-forced output from random weights ends
_SO = ("--structured-outputs-config", _json_arg({"backend": "xgrammar", "disable_any_whitespace": True}))
_POOLING = ("--runner", "pooling", "--convert")

#: where the "otel" variant exports its spans (OTLP/HTTP): the receiver test_tracing_real.py runs
OTLP_PORT = int(os.environ.get("VLLM_IT_OTLP_PORT", "4318"))
OTLP_ENDPOINT = f"http://127.0.0.1:{OTLP_PORT}/v1/traces"

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("plain", "chat and completions, structured outputs, request log lines", (*_SO, "--enable-log-requests")),
        Variant("apikey", "authentication: 401 without the key", api_key="test-key"),
        Variant(
            "responses",
            "Responses API store: background runs, retrieve and replay by id, cancel, previous_response_id",
            env=MappingProxyType({"VLLM_ENABLE_RESPONSES_API_STORE": "1"}),  # an integer: "true" fails at startup
        ),
        Variant("hermes", "tool calling", ("--enable-auto-tool-choice", "--tool-call-parser", "hermes", *_SO)),
        Variant("r1", "reasoning, deepseek_r1 parser", ("--reasoning-parser", "deepseek_r1", *_SO)),
        Variant(
            "r1_sor",
            "reasoning with structured outputs inside it (a regex can force <think>..</think>answer)",
            ("--reasoning-parser", "deepseek_r1", "--structured-outputs-config", _json_arg({"enable_in_reasoning": True})),
        ),
        Variant("qwen3", "reasoning, qwen3 parser", ("--reasoning-parser", "qwen3", *_SO)),
        Variant(
            "extras",
            "runtime LoRA (adapters from harness/tiny_lora.py), /inference/v1/generate, /tokenizer_info",
            ("--enable-lora", "--max-lora-rank", "8", "--max-loras", "2", "--enable-scale-out",
             "--enable-tokenizer-info-endpoint"),
            env=MappingProxyType({"VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"}),
        ),
        Variant(
            "whisper",
            "speech to text (/v1/audio/transcriptions, /v1/audio/translations) on a tiny random Whisper",
            # 12 tokens of output (16 - the 4-token decoder prompt); the encoder's 1500 positions
            # must fit one batch
            ("--max-model-len", "16", "--max-num-batched-tokens", "2048"),
            model="whisper",
        ),
        Variant("bench", "benchmarks/bench_agreement.py: no prefix cache, so every run of the same prompts costs "
                "the server the same", ("--no-enable-prefix-caching",)),
        Variant(
            "fleet",
            "client-side routing proof: a small prefix cache (28 blocks of 128 tokens) and cached_tokens in usage",
            ("--num-gpu-blocks-override", "28", "--enable-prompt-tokens-details"),
        ),
        Variant("fleet2", "the second server of the routing proof (same flags as fleet)",
                ("--num-gpu-blocks-override", "28", "--enable-prompt-tokens-details")),
        Variant(
            "otel",
            "OpenTelemetry: llm_request spans exported over OTLP/HTTP to a loopback receiver (VLLM_IT_OTLP_PORT)",
            ("--otlp-traces-endpoint", OTLP_ENDPOINT),
            # vLLM's default exporter is OTLP/gRPC; 100 ms batches so the test's wait is short
            env=MappingProxyType({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf", "OTEL_BSP_SCHEDULE_DELAY": "100",
                                  "OTEL_SERVICE_NAME": "vllm-server"}),
        ),
        Variant("embed", "embeddings, /pooling, /score, /rerank", (*_POOLING, "embed")),
        Variant("classify", "/classify", (*_POOLING, "classify")),
        Variant(
            "crossenc",
            "cross-encoder /score and /rerank (one label)",
            (*_POOLING, "classify", "--hf-overrides", _json_arg({"num_labels": 1})),
        ),
    )
}
