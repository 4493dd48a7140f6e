"""The only code that touches sockets: one sync and one async transport, each thin.

Both expose the same small surface (``send`` -> a response with ``status``, ``headers``,
``read()``/``aread()`` or an iterator of byte chunks, and ``close``), so the client shells
generated from one source can drive either. Transports do not retry: retry decisions are
the pure policy's, taken by the shell.
"""
