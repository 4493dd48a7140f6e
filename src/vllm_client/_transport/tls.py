"""TLS contexts for both transports: ``verify`` True (system CAs), False (no checks) or a CA bundle path."""

from __future__ import annotations

import ssl

__all__ = ["ssl_context"]


def ssl_context(verify: bool | str) -> ssl.SSLContext:
    if verify is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return ssl.create_default_context()
