"""The OpenTelemetry GenAI semantic-convention names we emit, in one place.

Pinned to semantic-conventions **v1.41.1**, the last release that holds the GenAI
conventions (they moved to ``semantic-conventions-genai``, whose unreleased HEAD renames
the client metrics to ``gen_ai.client.inference.*``): a rename is an edit here and nowhere
else. Our own constants, not ``opentelemetry-semantic-conventions`` ``_incubating``: that
package churns with every release and would tie our users' versions to ours (vLLM copies
its names for the same reason, ``vllm/tracing/utils.py``).

Every GenAI name is Development (experimental); ``error.type``, ``server.address`` and
``server.port`` are Stable.
"""

from __future__ import annotations

SEMCONV_VERSION = "1.41.1"
SCHEMA_URL = "https://opentelemetry.io/schemas/1.41.1"
INSTRUMENTATION_NAME = "vllm_client"
PROVIDER = "vllm"  # no well-known value fits; "openai" would imply the openai.* flavour

# -- operations (gen_ai.operation.name) by API path ------------------------------------------
CHAT = "chat"
TEXT_COMPLETION = "text_completion"
EMBEDDINGS = "embeddings"
OPERATIONS = {
    "/chat/completions": CHAT,
    "/completions": TEXT_COMPLETION,
    "/embeddings": EMBEDDINGS,
}

# -- span attributes ---------------------------------------------------------------------------
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_TOP_K = "gen_ai.request.top_k"
REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
REQUEST_SEED = "gen_ai.request.seed"
REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
REQUEST_STREAM = "gen_ai.request.stream"
REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
OUTPUT_TYPE = "gen_ai.output.type"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
HTTP_STATUS_CODE = "http.response.status_code"
ERROR_OTHER = "_OTHER"

# opt-in content (JSON strings on spans)
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
TOOL_DEFINITIONS = "gen_ai.tool.definitions"
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
CAPTURE_ON_SPAN = frozenset({"span_only", "span_and_event", "true"})

# ours (no convention yet)
TIME_TO_FIRST_TOKEN = "vllm_client.time_to_first_token"
RETRY_COUNT = "vllm_client.retry.count"
STREAM_CLOSED_EARLY = "vllm_client.stream.closed_early"
REQUEST_ID = "vllm_client.request_id"
RETRY_EVENT = "vllm_client.retry"

# -- metrics -----------------------------------------------------------------------------------
OPERATION_DURATION = "gen_ai.client.operation.duration"
TOKEN_USAGE = "gen_ai.client.token.usage"
TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
TOKEN_TYPE = "gen_ai.token.type"
TOKEN_INPUT = "input"
TOKEN_OUTPUT = "output"

# The conventions' advisory ExplicitBucketBoundaries (gen-ai-metrics.md). The SDK's default
# buckets (0, 5, 10, 25, ... 10000) are useless for seconds.
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)

# Metric attributes: never ids or content (cardinality), error.type on the duration only.
METRIC_ATTRIBUTES = frozenset({OPERATION_NAME, PROVIDER_NAME, REQUEST_MODEL, RESPONSE_MODEL, SERVER_ADDRESS,
                               SERVER_PORT})
