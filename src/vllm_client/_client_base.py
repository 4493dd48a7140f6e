"""What the sync and async clients share that involves no I/O: configuration, URLs,
headers, body encoding, server choice and the served-model cache.

The I/O shells (``_async/`` and the ``_sync/`` generated from it) hold a ``ClientCore``
and ask it for everything but the sending itself.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from ._call import Call, CallObserver
from ._config import ClientConfig, Timeout, redact_url, server_root
from ._json import dumps
from ._protocol.requests import RequestSpec, new_request_id
from ._retry import RetryPolicy
from ._routing.fleet import Fleet, ServerStatus
from ._version import __version__

__all__ = ["ClientCore", "SharedState"]

USER_AGENT = f"vllm-client/{__version__} python/{'.'.join(map(str, sys.version_info[:3]))}"  # (not platform: ~1.5 ms)


class SharedState:
    """State shared by a client and its ``with_options`` copies: the served-model cache
    (per server), the fleet (in-flight counts, breakers, routing) and the call observers
    (see ``_call.py``)."""

    def __init__(self) -> None:
        self.models: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        self.observers: tuple[CallObserver, ...] = ()
        self.fleet: Fleet | None = None


class ClientCore:
    """Pure request preparation for one client configuration."""

    __slots__ = ("_base_headers", "_bases", "_has_request_id", "config", "fleet", "health_interval", "policy",
                 "retry", "roots", "several", "shared", "shown_urls")

    def __init__(self, config: ClientConfig, shared: SharedState | None = None) -> None:
        self.config = config
        self.shared = shared or SharedState()
        self.retry = RetryPolicy(max_retries=config.max_retries)
        self.roots = tuple(server_root(u) for u in config.base_urls)
        # what results, errors, client.servers, logs and spans show of a server: never its secrets
        self.shown_urls = tuple(redact_url(u) for u in config.base_urls)
        # A base URL may carry a query (gateways: "?api-version=..."): it goes after the path.
        self._bases = tuple(tuple(u.split("?", 1)) if "?" in u else (u, "") for u in config.base_urls)
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        # One rule for both clients: the API key's Bearer, else the base URL's credentials
        # (kept out of the URL itself, so no transport adds its own Basic auth).
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        elif config.url_auth:
            headers["Authorization"] = config.url_auth
        merge_headers(headers, config.headers)
        self._base_headers = headers
        self._has_request_id = _has_key(headers, "x-request-id")
        shared = self.shared
        with shared.lock:
            if shared.fleet is None:  # one per client and its with_options copies: shared counts
                shared.fleet = Fleet(self.shown_urls, config.routing)
                shared.observers = (shared.fleet, *shared.observers)
        self.fleet: Fleet = shared.fleet
        self.policy = self.fleet.policy_for(config.routing)  # a with_options copy may route its own way
        self.several = len(config.base_urls) > 1
        self.health_interval = config.health_check_interval if self.several else None

    # -- calls and observers -------------------------------------------------------------
    @property
    def observers(self) -> tuple[CallObserver, ...]:
        """Who is told about every call's life (shared with ``with_options`` copies)."""
        return self.shared.observers

    def add_observer(self, observer: CallObserver) -> None:
        """Tell ``observer`` about every call from now on (this client and its copies)."""
        with self.shared.lock:
            self.shared.observers = (*self.shared.observers, observer)

    def remove_observer(self, observer: CallObserver) -> None:
        with self.shared.lock:
            self.shared.observers = tuple(o for o in self.shared.observers if o is not observer)

    def new_call(self, spec: RequestSpec, request_id: str, headers: dict[str, str] | None = None) -> Call:
        return Call(self.shared.observers, spec, request_id, self.shown_urls, headers)

    # -- servers -------------------------------------------------------------------------
    def pick_server(self, spec: RequestSpec, tried: tuple[int, ...] = ()) -> int:
        """Index of the server for the next attempt (the routing policy's choice; servers
        this call already tried are avoided while others are left)."""
        if not self.several:
            return 0
        return self.fleet.pick(spec, tried, self.config.headers, self.policy)

    def servers(self) -> list[ServerStatus]:
        return self.fleet.statuses()

    def url(self, spec: RequestSpec, server: int = 0) -> str:
        base, query = self._bases[server]
        url = (self.roots[server] if spec.root else base) + spec.path
        if spec.query:
            extra = urlencode(spec.query, doseq=True)
            query = f"{query}&{extra}" if query else extra
        return f"{url}?{query}" if query else url

    # -- headers and body ----------------------------------------------------------------
    def headers(self, spec: RequestSpec) -> tuple[dict[str, str], str]:
        """Headers for every attempt of a call, and the request id they carry. The
        caller's own ``X-Request-Id`` (client or per-call header) wins over ours."""
        headers = dict(self._base_headers)
        if spec.stream:
            headers["Accept"] = "text/event-stream"
        if spec.headers:
            merge_headers(headers, spec.headers)
            for k, v in spec.headers.items():
                if k.lower() == "x-request-id":
                    return headers, v
        if self._has_request_id:
            for k, v in headers.items():
                if k.lower() == "x-request-id":
                    return headers, v
        # vLLM takes the X-Request-Id header over a request_id field in the body, so a
        # caller's request_id= must travel in the header to have any effect.
        body_rid = spec.body.get("request_id") if spec.body else None
        rid = body_rid if isinstance(body_rid, str) and body_rid else new_request_id()
        headers["X-Request-Id"] = rid
        return headers, rid

    def body(self, spec: RequestSpec) -> bytes | None:
        """The JSON body. A value JSON cannot carry is a TypeError naming its field."""
        if spec.raw_body is not None:
            return spec.raw_body
        if spec.body is None:
            return None
        try:
            return dumps(spec.body)
        except TypeError as exc:
            raise TypeError(f"{_unencodable(spec.body)} cannot be sent as JSON: {exc}") from None

    def timeout(self, spec: RequestSpec) -> Timeout:
        return spec.timeout or self.config.timeout

    # -- model resolution ----------------------------------------------------------------
    def cached_model(self, server: int) -> str | None:
        ids = self.shared.models.get(self.config.base_urls[server])
        if ids is None:
            return None
        return choose_model(ids, self.config.base_urls[server])

    def remember_models(self, server: int, ids: list[str]) -> str:
        self.shared.models[self.config.base_urls[server]] = ids
        return choose_model(ids, self.config.base_urls[server])

    def describe(self, cls_name: str) -> str:
        urls = [redact_url(u) for u in self.config.base_urls]
        target = urls[0] if len(urls) == 1 else urls
        key = "set" if self.config.api_key else None
        return f"{cls_name}(base_url={target!r}, api_key={key!r}, max_retries={self.config.max_retries})"


def choose_model(ids: list[str], base_url: str) -> str:
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise ValueError(f"model=None, but {redact_url(base_url)} serves no model")
    raise ValueError(
        f"model=None, but {redact_url(base_url)} serves {len(ids)} models ({', '.join(ids)}): "
        "pass model=... to choose one"
    )


def merge_headers(headers: dict[str, str], extra: Mapping[str, str]) -> None:
    """``headers.update(extra)`` with names compared case-insensitively (HTTP's rule), so an
    override replaces the header instead of sending both spellings."""
    lower = {k.lower(): k for k in headers}
    for name, value in extra.items():
        old = lower.get(name.lower())
        if old is not None and old != name:
            del headers[old]
        headers[name] = str(value)
        lower[name.lower()] = name


def _has_key(headers: Mapping[str, Any], name: str) -> bool:
    return any(k.lower() == name for k in headers)


def _unencodable(body: Mapping[str, Any]) -> str:
    """Which top-level field of ``body`` JSON cannot encode (for the error message)."""
    for name, value in body.items():
        try:
            dumps(value)
        except TypeError:
            return f"the {name!r} field"
    return "the body"
