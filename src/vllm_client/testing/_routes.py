"""Which routes a vLLM 0.32 server answers, by what it was started to do.

Every server has the info routes (models, health, version, ping, load, metrics, tokenize,
detokenize). A generating model (`--runner generate`) adds chat, completions and the
Responses API; a pooling model adds its task's pooling routes (see `_pooling.routes_for`).
A speech-to-text model (`transcription`: Whisper) serves the audio routes and no chat. Flags
add theirs: `lora` (VLLM_ALLOW_RUNTIME_LORA_UPDATING) the adapter routes, `tokenizer_info`
(--enable-tokenizer-info-endpoint) `GET /tokenizer_info`.
Anything else is FastAPI's 404 `{"detail": "Not Found"}` (the classify_v1,
embed_chat_unsupported and err_embeddings_on_generate_model captures), and a known route
with another method its 405.
"""

from __future__ import annotations

from . import _audio as audio
from . import _lora as lora
from . import _more_routes as more
from . import _pooling as pool

__all__ = ["RESPONSE_BY_ID", "RESPONSE_CANCEL", "TASKS", "route_of", "table"]

RESPONSE_BY_ID = "/v1/responses/{id}"
RESPONSE_CANCEL = "/v1/responses/{id}/cancel"

_GET, _POST = ("GET",), ("POST",)
_SERVER_ROUTES: dict[str, tuple[str, ...]] = {
    "/v1/models": _GET,
    "/health": _GET,
    "/version": _GET,
    "/ping": ("GET", "POST"),
    "/load": _GET,
    "/metrics": _GET,
    "/tokenize": _POST,
    "/detokenize": _POST,
}
_GENERATE_ROUTES: dict[str, tuple[str, ...]] = {
    "/v1/chat/completions": _POST,
    "/v1/completions": _POST,
    "/v1/responses": _POST,
    RESPONSE_BY_ID: _GET,
    RESPONSE_CANCEL: _POST,
}
# task -> does it generate. None serves everything: one emulator for every kind of test.
TASKS: dict[str | None, bool] = {None: True, "generate": True, "embed": False, "classify": False,
                                 "transcription": False}


def table(task: str | None, num_labels: int, features: frozenset[str] = frozenset()) -> dict[str, tuple[str, ...]]:
    """Route -> allowed methods, for a server started for `task` with the flags in `features`."""
    routes = dict(_SERVER_ROUTES)
    if "lora" in features:
        routes.update(lora.ROUTES)
    if "tokenizer_info" in features:
        routes["/tokenizer_info"] = _GET
    if task in (None, "transcription"):  # a speech-to-text model (Whisper)
        routes.update(audio.ROUTES)
    routes["/invocations"] = ("POST",)  # SageMaker: every server, whatever it serves
    if TASKS[task]:
        routes.update(_GENERATE_ROUTES)
        routes.update(more.GENERATE_ONLY)  # chat batch, /v1/messages, scale-out, elastic EP
    routes.update(pool.routes_for(task, num_labels))
    return routes


def route_of(path: str) -> str:
    """The route a path belongs to: itself, or a Responses API `{id}` route."""
    if path.startswith("/v1/responses/"):
        return RESPONSE_CANCEL if path.endswith("/cancel") else RESPONSE_BY_ID
    return path
