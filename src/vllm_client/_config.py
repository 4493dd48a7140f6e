"""Client configuration: base URL normalisation, environment variables, timeouts, limits.

Pure: nothing here opens a socket. Arguments win over environment variables, which win
over defaults.
"""

from __future__ import annotations

import base64
import math
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Union
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = [
    "DEFAULT_BASE_URL",
    "MAX_SECONDS",
    "ClientConfig",
    "Limits",
    "Timeout",
    "TimeoutLike",
    "check_max_retries",
    "check_seconds",
    "normalize_base_url",
    "split_base_url",
]

DEFAULT_BASE_URL = "http://localhost:8000/v1"
DEFAULT_MAX_RETRIES = 2

MAX_SECONDS = min(1e9, threading.TIMEOUT_MAX)
"""The longest finite timeout accepted (about 31 years). Sockets, ``time.sleep`` and lock
waits raise ``OverflowError`` above ``threading.TIMEOUT_MAX`` (9.2e9 s on Linux, measured), so
a larger number is a mistake we report at construction instead of on every call."""


def check_seconds(name: str, value: object, *, allow_zero: bool = False, allow_none: bool = True) -> float | None:
    """``value`` as a number of seconds: ``None`` and ``inf`` mean no limit (``None``).

    Raises ValueError naming ``name`` and the value for NaN, negative (or zero unless
    ``allow_zero``) and absurdly large numbers, and for "no limit" unless ``allow_none``;
    TypeError for anything that is not a number.
    """
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise TypeError(f"{name} must be a number of seconds or None, got {value!r}")
    if value is None or value == math.inf:
        if not allow_none:
            raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
        return None
    if not (value >= 0 if allow_zero else value > 0):  # False for NaN too
        need = "a number of seconds >= 0" if allow_zero else "a positive number of seconds"
        raise ValueError(f"{name} must be {need}{' or None' if allow_none else ''}, got {value!r}")
    if value > MAX_SECONDS:  # exact for huge ints too: no float conversion yet
        hint = " (None means no limit)" if allow_none else ""
        raise ValueError(f"{name} must be at most {MAX_SECONDS:g} seconds{hint}, got {value!r}")
    return float(value)


def check_max_retries(value: object, name: str = "max_retries") -> int:
    """``value`` if it is an int >= 0 (not a bool), else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Timeout:
    """Timeouts in seconds; ``None`` means no limit.

    - ``connect``: establishing the TCP/TLS connection.
    - ``read``: waiting for any bytes of the answer (non-streamed answers: the whole body).
    - ``first_token``: a stream's wait for its first content, reasoning or tool token.
    - ``idle``: the longest gap between two stream events (a stalled stream raises).
    - ``total``: the whole call, retries included.

    An expiry raises :class:`~vllm_client.APITimeoutError`, in a stream
    :class:`~vllm_client.StreamTimeoutError`. A plain number ``n`` means ``Timeout(connect=n, read=n)``.
    ``float("inf")`` is stored as ``None``; NaN, zero, negative numbers and numbers above
    :data:`MAX_SECONDS` are a ValueError naming the field.
    """

    connect: float | None = 5.0
    read: float | None = 600.0
    first_token: float | None = None
    idle: float | None = None
    total: float | None = None

    def __post_init__(self) -> None:
        for name in ("connect", "read", "first_token", "idle", "total"):
            value = getattr(self, name)
            try:
                seconds = check_seconds(f"Timeout.{name}", value)
            except TypeError as exc:  # a field of the wrong type has always been a ValueError here
                raise ValueError(str(exc)) from None
            object.__setattr__(self, name, seconds)  # frozen: inf -> None, int -> float

    @classmethod
    def coerce(cls, value: TimeoutLike) -> Timeout:
        """A ``Timeout`` from a number of seconds, a ``Timeout`` or ``None`` (no limits)."""
        if isinstance(value, Timeout):
            return value
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise TypeError(f"timeout must be a number of seconds or a Timeout, got {value!r}")
        seconds = check_seconds("timeout", value)
        return cls(connect=seconds, read=seconds)


TimeoutLike = Union[Timeout, float, int, None]


@dataclass(frozen=True, slots=True)
class Limits:
    """Connection-pool limits: at most ``max_connections`` open at once per client,
    ``max_keepalive`` idle ones kept, each kept at most ``keepalive_expiry`` seconds."""

    max_connections: int = 256
    max_keepalive: int = 64
    keepalive_expiry: float = 30.0

    def __post_init__(self) -> None:
        for name, least in (("max_connections", 1), ("max_keepalive", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"Limits.{name} must be an integer >= {least}, got {value!r}")
        expiry = check_seconds("Limits.keepalive_expiry", self.keepalive_expiry, allow_zero=True, allow_none=False)
        object.__setattr__(self, "keepalive_expiry", expiry)


def split_base_url(url: str) -> tuple[str, str | None]:
    """The normalised base URL (see :func:`normalize_base_url`) without any
    ``user:password@``, and the ``Authorization`` value those credentials make
    (``Basic ...``, user and password percent-decoded; ``None`` without credentials).

    The stored URL never carries credentials, so they cannot reach a repr, an error, a log
    or a transport (an HTTP library could turn them into its own Basic auth header).
    """
    if not isinstance(url, str):
        raise TypeError(f"base_url must be a str, got {type(url).__name__}")
    text = url.strip()
    shown = redact_url(text)
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # unbalanced or invalid [IPv6] brackets
        raise ValueError(f"base_url is not a valid URL ({exc}): {shown!r}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"base_url must start with http:// or https://, got {shown!r}")
    host = parts.hostname
    if not host:
        raise ValueError(f"base_url has no host: {shown!r}")
    if ":" not in host and not all(c.isalnum() or c in "-._" for c in host):  # ":": [IPv6], checked by urlsplit
        raise ValueError(f"base_url has an invalid host {host!r}: {shown!r}")
    try:
        port = parts.port
    except ValueError:  # not a number, or above 65535
        port = 0
    if port == 0:
        raise ValueError(f"base_url has an invalid port (1-65535 expected): {shown!r}")
    _, at, hostport = parts.netloc.rpartition("@")  # keeps [IPv6] brackets and the port as written
    auth = None
    if at and (parts.username or parts.password):
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, hostport.rstrip(":"), path, parts.query, "")), auth


def normalize_base_url(url: str) -> str:
    """``http://host:8000`` -> ``http://host:8000/v1``; trailing ``/`` and any
    ``user:password@`` removed.

    Raises ValueError (naming the URL without its credentials) for anything but an absolute
    http(s) URL with a valid host and port. A URL that already has a path (``/v1``,
    ``/proxy/v1``...) keeps it.
    """
    return split_base_url(url)[0]


def server_root(base_url: str) -> str:
    """The server's root URL, where vLLM serves /health, /version, /tokenize..."""
    parts = urlsplit(base_url)
    path = parts.path
    if path.endswith("/v1"):
        path = path[:-3]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def redact_url(url: str) -> str:
    """The URL without any ``user:password@`` part and with secret query values (``api_key=``,
    ``token=``, ...) masked, for messages, logs and reprs.

    Plain string work, so it also redacts URLs that do not parse (or lack a scheme).
    """
    head, sep, rest = url.partition("://")
    if not sep:
        head, rest = "", url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority = rest[:end]
    tail = rest[end:]
    if "?" in tail:
        tail = _redact_query(tail)
    if "@" not in authority:
        return f"{head}{sep}{authority}{tail}"
    return f"{head}{sep}{authority.rsplit('@', 1)[1]}{tail}"


_SECRET_PARAM_WORDS = ("key", "token", "secret", "password", "passwd", "auth", "sig", "credential")


def _redact_query(tail: str) -> str:
    """``path?api_key=s3cret&x=1`` -> ``path?api_key=***&x=1``: values of parameters whose
    name says secret (``api_key``, ``access_token``, ``sig``, ...) are masked."""
    path, _, rest = tail.partition("?")
    query, hash_mark, fragment = rest.partition("#")
    pairs = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and any(word in name.lower() for word in _SECRET_PARAM_WORDS):
            value = "***"
        pairs.append(f"{name}{eq}{value}")
    return f"{path}?{'&'.join(pairs)}{hash_mark}{fragment}"


def _env_timeout(env: Mapping[str, str]) -> Timeout | None:
    """``VLLM_TIMEOUT`` as a Timeout (``inf``: no limits), ``None`` when unset or blank."""
    raw = env.get("VLLM_TIMEOUT")
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"VLLM_TIMEOUT must be a number of seconds, got {raw!r}") from None
    seconds = check_seconds("VLLM_TIMEOUT", value)
    return Timeout(connect=seconds, read=seconds)


def _env_int(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer >= 0, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {raw!r}")
    return value


OnRetry = Callable[[int, BaseException, float], Any]


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Everything a client needs to build requests; immutable, shared by ``with_options`` copies."""

    base_urls: tuple[str, ...]
    api_key: str | None = field(repr=False)
    timeout: Timeout
    max_retries: int
    headers: Mapping[str, str] = field(default_factory=dict)
    on_retry: OnRetry | None = None
    verify: bool | str = True
    limits: Limits = field(default_factory=Limits)
    trust_env: bool = True
    url_auth: str | None = field(default=None, repr=False)
    """``Authorization`` from credentials in the base URL(s); only used without ``api_key``."""
    routing: Any = None
    """``routing=``: a policy name or instance (``_routing/``); None: least_outstanding."""
    health_check_interval: float | None = None
    """Seconds between active ``/health`` probes of servers that are not closed (None: passive only)."""

    @property
    def base_url(self) -> str:
        return self.base_urls[0]

    @classmethod
    def build(
        cls,
        base_url: str | list[str] | tuple[str, ...] | None,
        *,
        api_key: str | None,
        timeout: TimeoutLike | object,
        max_retries: int | None,
        headers: Mapping[str, str] | None,
        on_retry: OnRetry | None,
        verify: bool | str,
        limits: Limits | None,
        trust_env: bool,
        env: Mapping[str, str] | None = None,
    ) -> ClientConfig:
        """Resolve arguments, then environment variables, then defaults. ``timeout`` is
        ``_UNSET`` when not given (``None`` explicitly means no limits)."""
        env = os.environ if env is None else env
        if base_url is None:
            base_url = env.get("VLLM_BASE_URL") or DEFAULT_BASE_URL
        if isinstance(base_url, str):
            given: list[str] | tuple[str, ...] = (base_url,)
        elif isinstance(base_url, (list, tuple)):
            if not base_url:
                raise ValueError("base_url list is empty")
            given = base_url
        else:
            raise TypeError(f"base_url must be a str or a list of str, got {type(base_url).__name__}")
        split = [split_base_url(u) for u in given]
        urls = tuple(u for u, _ in split)
        if api_key is None:
            api_key = env.get("VLLM_API_KEY") or None
        url_auth = None
        if not api_key:  # an API key's Bearer wins: URL credentials are then dropped
            auths = {auth for _, auth in split}
            if len(auths) > 1:
                raise ValueError("the base URLs carry different credentials (user:password@): give every URL "
                                 f"the same ones, or pass api_key=; URLs: {list(urls)}")
            url_auth = auths.pop()
        # the environment only when the argument is not given (None: explicitly no limits)
        resolved = (_env_timeout(env) or Timeout()) if timeout is _UNSET else Timeout.coerce(timeout)  # type: ignore[arg-type]
        if max_retries is None:
            env_retries = _env_int(env, "VLLM_MAX_RETRIES")
            max_retries = DEFAULT_MAX_RETRIES if env_retries is None else env_retries
        check_max_retries(max_retries)
        if not isinstance(verify, (bool, str)):
            raise TypeError("verify must be True, False or the path of a CA bundle")
        return cls(
            base_urls=urls,
            api_key=api_key,
            timeout=resolved,
            max_retries=max_retries,
            headers=dict(headers or {}),
            on_retry=on_retry,
            verify=verify,
            limits=limits or Limits(),
            trust_env=trust_env,
            url_auth=url_auth,
        )

    def copy_with(self, **changes: Any) -> ClientConfig:
        return replace(self, **changes)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


_UNSET: Any = _Unset()
UNSET: Any = _UNSET
