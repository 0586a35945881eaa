"""respond stage: verdicts and online signals → one action per request, and what a degraded
response looks like. Pure; the gateway applies it."""

from distillguard.respond.degrade import (
    degrade_chunk,
    degrade_probs,
    degrade_request,
    degrade_response,
)
from distillguard.respond.enforcement import (
    EMPTY_ENFORCEMENT,
    EnforcementEntry,
    EnforcementList,
    parse_enforcement,
)
from distillguard.respond.policy import Decision, Policy, Signals

__all__ = [
    "EMPTY_ENFORCEMENT",
    "Decision",
    "EnforcementEntry",
    "EnforcementList",
    "Policy",
    "Signals",
    "degrade_chunk",
    "degrade_probs",
    "degrade_request",
    "degrade_response",
    "parse_enforcement",
]
