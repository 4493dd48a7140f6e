"""Client-side routing over several vLLM servers: policies, prefix index, breaker, retry
budget (pure), and the fleet that ties them to the call lifecycle (``_call.py``)."""

from .breaker import Breaker, BreakerConfig
from .budget import RetryBudget
from .fleet import Fleet, ServerStatus
from .policies import (
    POLICIES,
    LeastOutstanding,
    Policy,
    PrefixAffinity,
    RoundRobin,
    RouteRequest,
    SessionAffinity,
    check_routing,
)

__all__ = ["POLICIES", "Breaker", "BreakerConfig", "Fleet", "LeastOutstanding", "Policy", "PrefixAffinity",
           "RetryBudget", "RoundRobin", "RouteRequest", "ServerStatus", "SessionAffinity", "check_routing"]
