"""Proxy selection from the environment (``HTTP(S)_PROXY``, ``NO_PROXY``), as curl and
requests honour it. Pure apart from reading ``os.environ`` once per transport."""

from __future__ import annotations

import os
from base64 import b64encode
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit


def proxies_from_env() -> dict[str, str]:
    """{"http": url, "https": url} from the environment (lower- and upper-case names)."""
    if not any(name[-6:].lower() == "_proxy" for name in os.environ):
        return {}  # the common case, decided without importing urllib.request (~5 ms of startup)
    import urllib.request

    found = urllib.request.getproxies_environment()
    return {k: v for k, v in found.items() if k in ("http", "https", "no")}


def proxy_for(scheme: str, host: str, proxies: Mapping[str, str]) -> str | None:
    """The proxy URL to use for ``scheme://host``, or None (no proxy, or host in NO_PROXY).

    Loopback addresses never go through a proxy: a vLLM server on this machine is the
    common case and a corporate proxy cannot reach it.
    """
    if not proxies:
        return None
    url = proxies.get(scheme)
    if not url:
        return None
    if host in ("localhost", "127.0.0.1", "::1") or host.startswith("127."):
        return None
    no_proxy = proxies.get("no", "")
    if no_proxy:
        if no_proxy.strip() == "*":
            return None
        for entry in no_proxy.replace(" ", "").split(","):
            if not entry:
                continue
            entry = entry.lstrip(".")
            if host == entry or host.endswith("." + entry):
                return None
    return url


def proxy_auth(proxy: str) -> dict[str, str]:
    """The ``Proxy-Authorization`` header for a proxy URL's ``user:password@``, if any."""
    p = urlsplit(proxy)
    if p.username is None:
        return {}
    token = f"{unquote(p.username)}:{unquote(p.password or '')}".encode()
    return {"Proxy-Authorization": "Basic " + b64encode(token).decode()}
