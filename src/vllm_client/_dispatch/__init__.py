"""The dispatcher shared by ``batch`` and ``bench``: N requests in flight, paced on absolute
times, each with a deadline, each timed (start, first token, end).

Split as the client is: :mod:`.schedule` decides (pure, every method takes ``now``), the
pools (:mod:`.async_pool`, :mod:`.sync_pool`) hold the running calls, and the loop in
``_async/dispatch.py`` (``_sync/dispatch.py`` generated from it) asks one and drives the
other. A caller brings a source of jobs, a function that runs one job, and a callback for
each outcome; batch adds the reorder window and the durable writer, bench the schedule of
send times and the statistics.
"""

from __future__ import annotations

from .schedule import DispatchTimeout, Scheduler, Timing, wait_plan

__all__ = ["DispatchTimeout", "Scheduler", "Timing", "wait_plan"]
