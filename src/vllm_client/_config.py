"""Client configuration: base URL normalisation, environment variables, timeouts, limits.

Pure: nothing here opens a socket. Arguments win over environment variables, which win
over defaults.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Union
from urllib.parse import urlsplit, urlunsplit

__all__ = ["DEFAULT_BASE_URL", "ClientConfig", "Limits", "Timeout", "TimeoutLike", "normalize_base_url"]

DEFAULT_BASE_URL = "http://localhost:8000/v1"
DEFAULT_MAX_RETRIES = 2


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
    """

    connect: float | None = 5.0
    read: float | None = 600.0
    first_token: float | None = None
    idle: float | None = None
    total: float | None = None

    def __post_init__(self) -> None:
        for name in ("connect", "read", "first_token", "idle", "total"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not value > 0):  # "not > 0" also rejects NaN
                raise ValueError(f"Timeout.{name} must be a positive number of seconds or None, got {value!r}")

    @classmethod
    def coerce(cls, value: TimeoutLike) -> Timeout:
        """A ``Timeout`` from a number of seconds, a ``Timeout`` or ``None`` (no limits)."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(connect=None, read=None)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"timeout must be a number of seconds or a Timeout, got {value!r}")
        return cls(connect=float(value), read=float(value))


TimeoutLike = Union[Timeout, float, int, None]


@dataclass(frozen=True, slots=True)
class Limits:
    """Connection-pool limits: at most ``max_connections`` open at once per client,
    ``max_keepalive`` idle ones kept, each kept at most ``keepalive_expiry`` seconds."""

    max_connections: int = 256
    max_keepalive: int = 64
    keepalive_expiry: float = 30.0


def normalize_base_url(url: str) -> str:
    """``http://host:8000`` -> ``http://host:8000/v1``; trailing ``/`` removed.

    Raises ValueError for anything but an absolute http(s) URL. A URL that already has a
    path (``/v1``, ``/proxy/v1``...) keeps it.
    """
    if not isinstance(url, str):
        raise TypeError(f"base_url must be a str, got {type(url).__name__}")
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"base_url must start with http:// or https://, got {redact_url(text)!r}")
    if not parts.hostname:
        raise ValueError(f"base_url has no host: {redact_url(text)!r}")
    path = parts.path.rstrip("/")
    if not path:
        path = "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def server_root(base_url: str) -> str:
    """The server's root URL, where vLLM serves /health, /version, /tokenize..."""
    parts = urlsplit(base_url)
    path = parts.path
    if path.endswith("/v1"):
        path = path[:-3]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def redact_url(url: str) -> str:
    """The URL without any ``user:password@`` part, for messages and reprs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]  # keeps [IPv6] brackets and the port as written
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _env_float(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0:  # also rejects NaN
        raise ValueError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


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
    api_key: str | None
    timeout: Timeout
    max_retries: int
    headers: Mapping[str, str] = field(default_factory=dict)
    on_retry: OnRetry | None = None
    verify: bool | str = True
    limits: Limits = field(default_factory=Limits)
    trust_env: bool = True

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
            urls: tuple[str, ...] = (normalize_base_url(base_url),)
        elif isinstance(base_url, (list, tuple)):
            if not base_url:
                raise ValueError("base_url list is empty")
            urls = tuple(normalize_base_url(u) for u in base_url)
        else:
            raise TypeError(f"base_url must be a str or a list of str, got {type(base_url).__name__}")
        if api_key is None:
            api_key = env.get("VLLM_API_KEY") or None
        if timeout is _UNSET:
            env_timeout = _env_float(env, "VLLM_TIMEOUT")
            resolved = Timeout() if env_timeout is None else Timeout.coerce(env_timeout)
        else:
            resolved = Timeout.coerce(timeout)  # type: ignore[arg-type]
        if max_retries is None:
            env_retries = _env_int(env, "VLLM_MAX_RETRIES")
            max_retries = DEFAULT_MAX_RETRIES if env_retries is None else env_retries
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
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
        )

    def copy_with(self, **changes: Any) -> ClientConfig:
        return replace(self, **changes)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


_UNSET: Any = _Unset()
UNSET: Any = _UNSET
