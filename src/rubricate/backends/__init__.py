"""Judge backends behind one small protocol.

``Judge`` is the extension point. ``OpenAIJudge`` talks to any OpenAI-compatible server,
``JudgePool`` balances several, ``LlamaCppJudge`` (extra ``local``) runs a GGUF model on
the CPU, ``ScriptedJudge`` answers from a function for unit tests.
"""

from rubricate.backends._http import HttpPool
from rubricate.backends._limits import RateLimiter
from rubricate.backends._protocol import Judge
from rubricate.backends._retry import with_retries
from rubricate.backends.openai import OpenAIJudge
from rubricate.backends.pool import JudgePool, create_openai_judge
from rubricate.backends.scripted import ScriptedJudge

__all__ = [
    "HttpPool",
    "Judge",
    "JudgePool",
    "OpenAIJudge",
    "RateLimiter",
    "ScriptedJudge",
    "create_openai_judge",
    "with_retries",
]


def __getattr__(name: str) -> object:
    # llama.cpp is an optional extra: import it only when asked for.
    if name == "LlamaCppJudge":
        from rubricate.backends.llamacpp import LlamaCppJudge

        return LlamaCppJudge
    raise AttributeError(f"module 'rubricate.backends' has no attribute '{name}'")
