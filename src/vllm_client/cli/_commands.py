"""The assembled app: importing each command module registers its commands on ``app``
(kept out of ``_app`` so that the command modules can import it without a cycle)."""

from __future__ import annotations

from . import _batch, _chat, _info, _mock, _pooling
from ._app import app

__all__ = ["app"]

_REGISTERED = (_batch, _chat, _info, _mock, _pooling)  # imported for their side effect
