"""The sans-I/O core: request building, response decoding, SSE and stream state machines.

Nothing in this package opens a socket, sleeps or reads a clock it was not given, so the
same logic serves the sync and the async client and is tested without a server.
"""
