"""The async client: the single source of the I/O shells.

``_sync/`` is generated from these modules by ``scripts/unasync.py`` (``async def`` ->
``def``, ``await`` dropped, Async names -> sync names); never edit ``_sync/`` by hand.
"""
