"""Tools: ``@tool`` turns a typed Python function into an OpenAI tool, and ``run_tools``
runs the agent loop (ask the model, run the tools it calls, send the results back, repeat).

The loop is written once, as the pure state machine :class:`ToolLoop` (which request to
send next, which calls to run, how results become messages); the sync and async drivers
below only do the I/O around it, so both clients behave the same by construction.

Failures inside a round do not crash the loop: a tool that raises, a tool name the model
made up, or arguments that do not parse become an error result (``{"error": "..."}``)
that the model sees and can correct. Only exceeding ``max_rounds`` raises
(:class:`ToolLoopError`, with the transcript so far).
"""

from ._decorator import Tool, as_tool, tool
from ._loop import ToolInvocation, ToolLoop, ToolLoopError, ToolResult
from ._run import AsyncToolStream, ToolStream, run_tools, run_tools_stream

__all__ = [
    "AsyncToolStream",
    "Tool",
    "ToolInvocation",
    "ToolLoop",
    "ToolLoopError",
    "ToolResult",
    "ToolStream",
    "as_tool",
    "run_tools",
    "run_tools_stream",
    "tool",
]
