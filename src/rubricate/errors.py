"""The exception tree of rubricate.

Every error the library raises on purpose is a ``RubricateError``::

    RubricateError
    +-- InputError            bad data: names the file, line and field when known
    +-- ConfigError           contradictory or missing options
    +-- MissingDependency     an optional extra is not installed (carries the pip hint)
    +-- BackendError          a judge or policy call failed (.retryable, .retry_after)
    |   +-- MalformedReply    the judge answered 2xx with a body of the wrong shape
    |   +-- JudgeDown         a circuit breaker is open: calls fail fast, unsent
    +-- VerdictError          a judge reply could not be parsed (keeps .raw text)
    +-- ModelError            a local model could not be found, verified or loaded

Each class has a stable ``code`` string that CLI output and HTTP replies carry.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "ConfigError",
    "InputError",
    "JudgeDown",
    "MalformedReply",
    "MissingDependency",
    "ModelError",
    "RubricateError",
    "VerdictError",
]


class RubricateError(Exception):
    """Base class of every error rubricate raises on purpose."""

    code = "rubricate_error"


class InputError(RubricateError):
    """Invalid input data, located as precisely as possible."""

    code = "invalid_input"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.reason = message
        where = []
        if file is not None:
            where.append(f"{file}" + (f":{line}" if line is not None else ""))
        elif line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ConfigError(RubricateError):
    """Options that contradict each other or are missing."""

    code = "invalid_config"


class MissingDependency(RubricateError):
    """An optional dependency is needed; the message says what to install."""

    code = "missing_dependency"

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(f"this feature needs '{package}': pip install 'rubricate[{extra}]'")


class BackendError(RubricateError):
    """A judge or policy call failed.

    Attributes:
        retryable: whether the same call may succeed later (429, 5xx, timeouts).
        retry_after: seconds the server asked us to wait, when it said so.
        status: HTTP status when there was one.
    """

    code = "backend_error"

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        super().__init__(message)


class MalformedReply(BackendError):
    """A judge answered 2xx, but its body is not a chat completion of the expected shape.

    Raised by ``OpenAIJudge`` for a body that is not JSON, has no ``choices[0].message``,
    or carries ``usage`` or ``logprobs`` that cannot be read (a string, a list, a negative,
    non-finite or non-integer count). Retryable: a proxy's error page answers 200 too.
    """

    code = "malformed_reply"


class JudgeDown(BackendError):
    """A judge's circuit breaker is open: the call was not sent.

    Raised by ``backends.CircuitBreaker`` after consecutive outage failures (refused
    connections, 5xx, timeouts) until a probe call succeeds. Never retryable: retrying
    would only meet the open breaker again. ``retry_after`` is the seconds until the
    next probe may go out.
    """

    code = "judge_down"


class VerdictError(RubricateError):
    """A judge reply that does not contain a usable verdict."""

    code = "unparseable_verdict"

    def __init__(self, message: str, raw: str) -> None:
        self.raw = raw
        super().__init__(message)


class ModelError(RubricateError):
    """A local judge model could not be resolved, verified or loaded."""

    code = "model_error"
