"""Judge backends behind one small protocol, and the resilience that wraps any of them.

``Judge`` is the extension point (``fingerprint`` and ``complete``); ``JudgeBase`` gives a
judge ``aclose`` and ``async with``. Providers speak a wire format only: ``OpenAIJudge``
(any OpenAI-compatible server), ``LlamaCppJudge`` (extra ``local``, a GGUF model on the CPU),
``ScriptedJudge`` (answers from a function, for unit tests). ``resilient`` wraps any judge in
``Retrying``, ``CircuitBreaker``, ``Hedging``, ``RateLimited`` and ``CallSlots``; ``JudgePool`` balances several.
``create_openai_judge`` and ``create_local_judge`` build the usual stacks.
"""

from rubricate.backends._breaker import BreakerState, CircuitBreaker, breakers, is_outage
from rubricate.backends._compose import Resilient, create_local_judge, resilient
from rubricate.backends._http import HttpPool
from rubricate.backends._limits import RateLimiter
from rubricate.backends._protocol import Judge, JudgeBase, close_judge
from rubricate.backends._retry import with_retries
from rubricate.backends._turns import prefix_key
from rubricate.backends._wrappers import (
    CallSlots,
    Hedging,
    RateLimited,
    Retrying,
    RetryPolicy,
    layers,
)
from rubricate.backends.openai import OpenAIJudge
from rubricate.backends.pool import JudgePool, create_openai_judge
from rubricate.backends.scripted import ScriptedJudge

__all__ = [
    "BreakerState",
    "CallSlots",
    "CircuitBreaker",
    "Hedging",
    "HttpPool",
    "Judge",
    "JudgeBase",
    "JudgePool",
    "OpenAIJudge",
    "RateLimited",
    "RateLimiter",
    "Resilient",
    "RetryPolicy",
    "Retrying",
    "ScriptedJudge",
    "breakers",
    "close_judge",
    "create_local_judge",
    "create_openai_judge",
    "is_outage",
    "layers",
    "prefix_key",
    "resilient",
    "with_retries",
]


def __getattr__(name: str) -> object:
    # llama.cpp is an optional extra: import it only when asked for.
    if name == "LlamaCppJudge":
        from rubricate.backends.llamacpp import LlamaCppJudge

        return LlamaCppJudge
    raise AttributeError(f"module 'rubricate.backends' has no attribute '{name}'")
