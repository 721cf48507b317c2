"""OpenAIJudge and with_retries: error mapping, backoff, logprobs, and a real loopback server with faults."""

from __future__ import annotations

import asyncio
import json
import math
import random
import subprocess
import sys
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from rubricate.backends import Resilient, create_openai_judge
from rubricate.backends._limits import Slots
from rubricate.backends._retry import backoff_delay, parse_retry_after, with_retries
from rubricate.backends.openai import _within, choice_probabilities
from rubricate.errors import BackendError, ConfigError
from rubricate.judge import ANSWER_PREFIX
from rubricate.types import JudgeRequest, Message
from tests.support.judge_server import DEFAULT_FAULTS, GARBAGE_CONTENT, JudgeServer

ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


class Script:
    """A call that raises the given errors in turn, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class TopRng(random.Random):
    """Always draws the top of the jitter range, exposing the backoff ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


FLAKY = BackendError("503", retryable=True, status=503)


# --- with_retries -------------------------------------------------------------------------


async def test_backoff_ceiling_doubles_up_to_the_cap() -> None:
    sleep, call = Recorder(), Script(*[FLAKY] * 6)
    result = await with_retries(
        call, max_retries=6, base_delay=1.0, max_delay=10.0, rng=TopRng(), sleep=sleep
    )
    assert result == "ok" and call.calls == 7
    assert sleep.sleeps == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


async def test_backoff_is_jittered_below_the_ceiling() -> None:
    sleep = Recorder()
    await with_retries(
        Script(*[FLAKY] * 5), max_retries=5, base_delay=1.0, rng=random.Random(7), sleep=sleep
    )
    ceilings = [1.0, 2.0, 4.0, 8.0, 16.0]
    assert all(0 <= s <= c for s, c in zip(sleep.sleeps, ceilings, strict=True))
    assert len(set(sleep.sleeps)) == 5 and sleep.sleeps != ceilings
    # Seeded: the same generator gives the same waits.
    again = Recorder()
    await with_retries(
        Script(*[FLAKY] * 5), max_retries=5, base_delay=1.0, rng=random.Random(7), sleep=again
    )
    assert again.sleeps == sleep.sleeps


async def test_retry_after_is_a_floor_and_is_capped() -> None:
    sleep = Recorder()
    errors = [
        BackendError("429", retryable=True, retry_after=7.0),
        BackendError("429", retryable=True, retry_after=10_000.0),
    ]
    await with_retries(
        Script(*errors), max_retries=3, base_delay=0.1, max_retry_after=120.0, sleep=sleep
    )
    assert sleep.sleeps == [7.0, 120.0]


async def test_non_retryable_errors_stop_at_once() -> None:
    sleep, call = Recorder(), Script(BackendError("401 bad key", status=401))
    with pytest.raises(BackendError, match="401"):
        await with_retries(call, max_retries=5, sleep=sleep)
    assert call.calls == 1 and sleep.sleeps == []


async def test_the_last_error_surfaces_when_the_budget_is_spent() -> None:
    sleep = Recorder()
    errors = [BackendError(f"attempt {i}", retryable=True) for i in range(5)]
    call = Script(*errors)
    with pytest.raises(BackendError, match="attempt 2"):
        await with_retries(call, max_retries=2, sleep=sleep)
    assert call.calls == 3 and len(sleep.sleeps) == 2


async def test_other_exceptions_are_bugs_and_propagate() -> None:
    call = Script(KeyError("oops"))
    with pytest.raises(KeyError):
        await with_retries(call, max_retries=5, sleep=Recorder())
    assert call.calls == 1


def test_backoff_delay_without_retry_after() -> None:
    error = BackendError("x", retryable=True)
    assert backoff_delay(3, error, base_delay=0.5, max_delay=30.0, rng=TopRng()) == 4.0


def test_parse_retry_after_forms() -> None:
    now = 1_700_000_000.0
    date = format_datetime(datetime.fromtimestamp(now + 12, tz=timezone.utc), usegmt=True)
    h = httpx.Headers
    assert parse_retry_after(h({"Retry-After": "3"})) == 3.0
    assert parse_retry_after(h({"retry-after": "0.25"})) == 0.25
    assert parse_retry_after(h({"Retry-After": date}), now=now) == 12.0
    assert parse_retry_after(h({"Retry-After": date}), now=now + 60) == 0.0
    assert parse_retry_after(h({"retry-after-ms": "1500", "Retry-After": "9"})) == 1.5
    assert parse_retry_after(h({"Retry-After": "soon"})) is None
    assert parse_retry_after(h({})) is None


# --- error mapping (scripted transport) ---------------------------------------------------


def scripted_judge(*responses: httpx.Response, **kwargs) -> tuple[Resilient, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    kwargs.setdefault("sleep", Recorder())
    judge = create_openai_judge(
        "http://judge.test/v1", "m", api_key="k", transport=httpx.MockTransport(handler), **kwargs
    )
    assert isinstance(judge, Resilient)
    return judge, seen


def completion(content: str | None = '{"verdict": "met"}', **extra) -> httpx.Response:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
    return httpx.Response(200, json={**body, **extra})


REQUEST = JudgeRequest(
    messages=(Message("system", "s"), Message("user", "u")), criterion_ids=("c",)
)


@pytest.mark.parametrize(
    ("response", "retryable", "retry_after", "message"),
    [
        (httpx.Response(429, headers={"Retry-After": "2"}, json={}), True, 2.0, "429"),
        (httpx.Response(503, text="overloaded"), True, None, "overloaded"),
        (httpx.Response(408, text=""), True, None, "408"),
        (httpx.Response(401, json={"error": {"message": "bad key"}}), False, None, "bad key"),
        (httpx.Response(404, json={"detail": "no such model"}), False, None, "no such model"),
        (
            httpx.Response(429, json={"error": {"message": "quota", "code": "insufficient_quota"}}),
            False,
            None,
            "quota",
        ),
        (httpx.Response(200, text="<html>"), True, None, "malformed reply"),
        (httpx.Response(200, json={"choices": []}), True, None, "malformed reply"),
        (httpx.Response(200, json=[1, 2]), True, None, "malformed reply"),
    ],
)
async def test_http_outcomes_map_to_backend_errors(
    response: httpx.Response, retryable: bool, retry_after: float | None, message: str
) -> None:
    judge, seen = scripted_judge(response, max_retries=0)
    with pytest.raises(BackendError, match=message) as caught:
        await judge.complete(REQUEST)
    await judge.aclose()
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == retry_after
    assert caught.value.status == response.status_code
    assert len(seen) == 1


async def test_transport_failures_are_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    judge = create_openai_judge(
        "http://judge.test/v1", "m", transport=httpx.MockTransport(handler), max_retries=0
    )
    with pytest.raises(BackendError, match="ConnectError") as caught:
        await judge.complete(REQUEST)
    assert caught.value.retryable and caught.value.status is None
    await judge.aclose()


async def test_retries_honour_retry_after_then_succeed() -> None:
    sleep = Recorder()
    judge, seen = scripted_judge(
        httpx.Response(429, headers={"Retry-After": "3"}, json={}),
        httpx.Response(500, json={}),
        completion(),
        sleep=sleep,
        rng=TopRng(),
        backoff_base=0.5,
    )
    reply = await judge.complete(REQUEST)
    await judge.aclose()
    assert reply.text == '{"verdict": "met"}' and len(seen) == 3
    assert sleep.sleeps == [3.0, 1.0]  # Retry-After, then the second backoff ceiling


async def test_client_errors_are_not_retried() -> None:
    sleep = Recorder()
    judge, seen = scripted_judge(httpx.Response(400, json={"error": {"message": "too long"}}))
    with pytest.raises(BackendError, match="too long"):
        await judge.complete(REQUEST)
    await judge.aclose()
    assert len(seen) == 1 and sleep.sleeps == []


async def test_body_usage_and_null_content() -> None:
    usage = {
        "prompt_tokens": 90,
        "completion_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 64},
    }
    judge, seen = scripted_judge(
        completion(None, usage=usage), seed=5, extra_body={"top_k": 1, "temperature": 0.3}
    )
    reply = await judge.complete(
        JudgeRequest(
            messages=REQUEST.messages, criterion_ids=("c",), max_tokens=33, want_probabilities=True
        )
    )
    await judge.aclose()
    body = json.loads(seen[0].content)
    assert body["messages"] == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
    ]
    assert body["max_tokens"] == 33 and body["seed"] == 5 and body["top_k"] == 1
    assert body["temperature"] == 0.3  # extra_body wins
    assert body["logprobs"] is True and body["top_logprobs"] == 10
    assert reply.text == "" and reply.probabilities is None
    assert (reply.usage.prompt_tokens, reply.usage.cached_prompt_tokens) == (90, 64)
    assert reply.usage.completion_tokens == 7 and reply.latency_s > 0


def test_fingerprint_names_model_and_settings_but_not_url_or_key() -> None:
    def fp(**kwargs) -> str:
        options = {"api_key": "sk-secret", **kwargs}
        return create_openai_judge(
            options.pop("base_url", "http://a/v1"), options.pop("model", "qwen"), **options
        ).fingerprint

    base = fp()
    assert base.startswith("openai:qwen:") and "sk-secret" not in base
    assert fp(base_url="http://b:8000/v1", api_key="other", concurrency=3, timeout=5) == base
    changed = [fp(temperature=0.5), fp(seed=1), fp(extra_body={"top_k": 1}), fp(model="llama")]
    assert len({base, *changed}) == 5
    assert fp(extra_body={"a": 1, "b": 2}) == fp(extra_body={"b": 2, "a": 1})


@pytest.mark.parametrize(
    "kwargs",
    [{"base_url": ""}, {"model": ""}, {"concurrency": 0}, {"timeout": 0}, {"max_retries": -1}],
)
def test_bad_options_are_config_errors(kwargs) -> None:
    options = {"base_url": "http://a/v1", "model": "m", **kwargs}
    with pytest.raises(ConfigError):
        create_openai_judge(options.pop("base_url"), options.pop("model"), **options)


# --- logprobs -> probabilities ------------------------------------------------------------


def tok(token: str, *top: tuple[str, float]) -> dict:
    alternatives = [{"token": t, "logprob": math.log(p)} for t, p in top]
    return {
        "token": token,
        "logprob": alternatives[0]["logprob"] if top else 0.0,
        "top_logprobs": alternatives,
    }


def test_probabilities_after_the_answer_prefix() -> None:
    content = [
        tok('{"'), tok("verdict"), tok('":'), tok(' "'),
        tok("not", ("not", 0.6), ("met", 0.3), (" met", 0.05), ("part", 0.05)),
        tok("_met"), tok('"}'),
    ]  # fmt: skip
    got = choice_probabilities(content, ANSWER_PREFIX, ("met", "not_met"))
    assert got == pytest.approx({"met": 0.35 / 0.95, "not_met": 0.6 / 0.95})


def test_prefix_without_spaces_and_a_token_straddling_it() -> None:
    # {"verdict":"met"} tokenised so that the quote and the verdict share one token.
    content = [tok('{"verdict'), tok('":'), tok('"met', ('"met', 0.8), ('"not', 0.2)), tok('"}')]
    got = choice_probabilities(content, ANSWER_PREFIX, ("met", "not_met"))
    assert got == pytest.approx({"met": 0.8, "not_met": 0.2})


def test_a_token_running_past_the_choice_still_counts() -> None:
    content = [tok('{"verdict": "'), tok('met"}', ('met"}', 0.7), ("not", 0.1), ("maybe", 0.2))]
    got = choice_probabilities(content, ANSWER_PREFIX, ("met", "not_met"))
    assert got == pytest.approx({"met": 0.875, "not_met": 0.125})


@pytest.mark.parametrize(
    "content",
    [
        [],
        [tok("I think so")],  # prefix never produced
        [tok('{"verdict": "')],  # nothing after it
        [tok('{"verdict": "'), tok("part", ("part", 0.9), ("maybe", 0.1))],  # no choice named
    ],
)
def test_probabilities_are_none_when_not_readable(content: list[dict]) -> None:
    assert choice_probabilities(content, ANSWER_PREFIX, ("met", "not_met")) is None


def test_tokens_naming_several_choices_are_ambiguous() -> None:
    content = [tok("m", ("m", 0.5), ("me", 0.2), ("mo", 0.3))]
    got = choice_probabilities(content, "", ("met", "mostly"))
    assert got == pytest.approx({"met": 0.4, "mostly": 0.6})  # "m" counted for neither


# --- the real loopback server -------------------------------------------------------------


def judge_request(i: int, *, probabilities: bool = False) -> JudgeRequest:
    user = (
        f"<conversation>\n[user]\nquestion {i}\n</conversation>\n\n<response-{i:04x}>\n"
        f"answer number {i}\n</response-{i:04x}>\n\nCriterion:\n"
        f'<criterion id="c{i}" note="pitfall">\nMentions item {i % 7}\n</criterion>\n'
    )
    return JudgeRequest(
        messages=(Message("system", "grade strictly"), Message("user", user)),
        criterion_ids=(f"c{i}",),
        max_tokens=32,
        want_probabilities=probabilities,
        choices=("met", "not_met") if probabilities else (),
        answer_prefix=ANSWER_PREFIX,
    )


def loopback_judge(server: JudgeServer, **kwargs) -> Resilient:
    # The timeout only has to beat the server's stall (timeout_s=5); a slow machine merely retries.
    options = {"timeout": 0.5, "max_retries": 12, "backoff_base": 0.002, "backoff_max": 0.01}
    options["concurrency"] = 16
    judge = create_openai_judge(server.url, "stub", **{**options, **kwargs})
    assert isinstance(judge, Resilient)
    return judge


async def texts(server: JudgeServer, n: int, **kwargs) -> list[str]:
    async with loopback_judge(server, **kwargs) as judge:
        replies = await asyncio.gather(*(judge.complete(judge_request(i)) for i in range(n)))
    return [reply.text for reply in replies]


N = 48


@pytest.fixture(scope="module")
def clean_texts() -> list[str]:
    with JudgeServer() as server:
        result = asyncio.run(texts(server, N))
        assert server.requests == N
    return result


@pytest.mark.parametrize(
    ("faults", "rate"), [((f,), 0.4) for f in DEFAULT_FAULTS] + [(DEFAULT_FAULTS, 0.3)]
)
async def test_faults_never_change_what_the_judge_returns(
    clean_texts: list[str], faults: tuple[str, ...], rate: float
) -> None:
    with JudgeServer(fault_rate=rate, faults=faults, seed=3, timeout_s=5.0) as server:
        got = await texts(server, N)
        injected = dict(server.injected)
        requests = server.requests
    assert got == clean_texts
    assert set(injected) == set(faults)
    assert requests >= N + sum(injected.values())


async def test_fail_first_n_then_recover(clean_texts: list[str]) -> None:
    with JudgeServer(fail_first_n=4, faults=("500", "429")) as server:
        assert await texts(server, N) == clean_texts
        assert server.injected == {"500": 2, "429": 2}


async def test_garbage_content_is_returned_as_text_for_the_parser_to_judge() -> None:
    with JudgeServer(fault_rate=1.0, faults=("garbage",)) as server:
        assert await texts(server, 2) == [GARBAGE_CONTENT] * 2


async def test_api_key_from_environment_is_sent_as_bearer(monkeypatch) -> None:
    monkeypatch.setenv("RUBRICATE_API_KEY", "sk-rubricate")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    with JudgeServer() as server:
        async with loopback_judge(server) as judge:
            await judge.complete(judge_request(0))
            assert "sk-rubricate" not in repr(judge) and "sk-rubricate" not in judge.fingerprint
        monkeypatch.delenv("RUBRICATE_API_KEY")
        async with loopback_judge(server) as judge:
            await judge.complete(judge_request(0))
        monkeypatch.delenv("OPENAI_API_KEY")
        async with loopback_judge(server) as judge:
            await judge.complete(judge_request(0))
        async with loopback_judge(server, api_key="explicit") as judge:
            await judge.complete(judge_request(0))
        auth = [headers.get("authorization") for headers in server.headers]
    assert auth == ["Bearer sk-rubricate", "Bearer sk-openai", None, "Bearer explicit"]


async def test_probabilities_from_server_logprobs_agree_with_the_verdict() -> None:
    with JudgeServer() as server:
        async with loopback_judge(server) as judge:
            replies = [await judge.complete(judge_request(i, probabilities=True)) for i in range(8)]
        assert all(body["logprobs"] and body["top_logprobs"] == 10 for body in server.log)
    for reply in replies:
        assert reply.probabilities is not None
        assert sum(reply.probabilities.values()) == pytest.approx(1.0)
        verdict = json.loads(reply.text)["verdict"]
        assert max(reply.probabilities, key=reply.probabilities.__getitem__) == verdict
        assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0


async def test_grouped_and_healthbench_prompts() -> None:
    grouped = (
        '<criterion id="a">\nFirst\n</criterion>\n<criterion id="b" note="x">\nSecond\n</criterion>'
    )
    healthbench = "Rubric item: [5] mentions dosage. Return JSON with criteria_met."
    with JudgeServer() as server:
        async with loopback_judge(server) as judge:
            replies = [
                await judge.complete(
                    JudgeRequest(messages=(Message("user", text),), criterion_ids=("a", "b"))
                )
                for text in (grouped, healthbench, healthbench)
            ]
    assert [v["id"] for v in json.loads(replies[0].text)["verdicts"]] == ["a", "b"]
    first, again = (json.loads(reply.text) for reply in replies[1:])
    assert first == again and isinstance(first["criteria_met"], bool) and first["explanation"]


async def test_a_free_form_completion_sends_the_requests_sampling_settings() -> None:
    with JudgeServer(respond=lambda body: f"policy says {body['temperature']}") as server:
        async with loopback_judge(server, seed=9) as judge:
            write = (Message("user", "write"),)
            reply = await judge.complete(JudgeRequest(write, (), max_tokens=64, temperature=0.7))
            await judge.complete(JudgeRequest(write, (), temperature=1.2, seed=4))
        body, second = server.log
    assert reply.text == "policy says 0.7"
    assert body["max_tokens"] == 64 and body["seed"] == 9 and "logprobs" not in body
    assert (second["temperature"], second["seed"]) == (1.2, 4)


def test_one_judge_serves_successive_event_loops(clean_texts: list[str]) -> None:
    # What sync wrappers do: asyncio.run per batch with the same judge object.
    with JudgeServer() as server:
        judge = loopback_judge(server, concurrency=2)

        async def batch(indices: range) -> list[str]:
            replies = await asyncio.gather(*(judge.complete(judge_request(i)) for i in indices))
            await judge.aclose()  # closed after each batch, reconnects on the next
            return [reply.text for reply in replies]

        got = asyncio.run(batch(range(0, 6))) + asyncio.run(batch(range(6, 12)))
    assert got == clean_texts[:12]


def test_server_runs_as_a_process_and_counts_into_a_file(tmp_path: Path) -> None:
    count_file = tmp_path / "count.txt"
    command = [sys.executable, "-m", "tests.support.judge_server", "--port", "0"]
    command += ["--count-file", str(count_file), "--fail-first-n", "1", "--faults", "500"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
            with httpx.Client(base_url=url, timeout=5) as client:
                body = {"model": "stub", "messages": [{"role": "user", "content": "hello"}]}
                statuses = [client.post("/chat/completions", json=body).status_code for _ in "abc"]
            assert statuses == [500, 200, 200]
            assert count_file.read_text().strip() == "3"
        finally:
            process.terminate()
        assert process.wait(timeout=10) == 0


# --- slots and hedged calls -------------------------------------------------------------


async def test_slots_serve_retries_before_first_attempts_and_survive_cancellation() -> None:
    slots = Slots([1, 2])
    held = [await slots.acquire(), await slots.acquire()]
    assert sorted(held) == [1, 2]
    order: list[str] = []

    async def take(name: str, urgent: bool) -> None:
        token = await slots.acquire(urgent=urgent)
        order.append(name)
        slots.release(token)

    waiters = [asyncio.ensure_future(take(f"first{i}", False)) for i in range(3)]
    cancelled = asyncio.ensure_future(take("gone", True))
    retry = asyncio.ensure_future(take("retry", True))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    assert slots.waiting == 4  # the cancelled waiter left the queue
    for token in held:
        slots.release(token)
    await asyncio.gather(*waiters, retry)
    assert order == ["retry", "first0", "first1", "first2"]
    assert sorted([await slots.acquire(), await slots.acquire()]) == [1, 2]  # none leaked


async def test_a_slot_released_before_a_cancelled_waiter_wakes_goes_to_the_next() -> None:
    slots = Slots([7])
    held = await slots.acquire()
    first = asyncio.ensure_future(slots.acquire())
    second = asyncio.ensure_future(slots.acquire())
    await asyncio.sleep(0)
    first.cancel()
    slots.release(held)  # before the cancelled waiter has run its cleanup
    assert await second == 7
    with pytest.raises(asyncio.CancelledError):
        await first
    assert slots.waiting == 0


async def test_a_stalled_call_is_answered_by_its_backup_copy_without_a_retry() -> None:
    sleeps = Recorder()
    # The first request stalls for 20 s; the call's own timeout is longer still.
    with JudgeServer(fail_first_n=1, faults=("timeout",), timeout_s=20.0) as server:
        async with create_openai_judge(
            server.url, "stub", timeout=60, hedge_after=0.3, sleep=sleeps
        ) as judge:
            reply = await judge.complete(judge_request(0))
            assert judge.hedged_calls == 1
        assert server.requests == 2 and server.injected == {"timeout": 1}
    with JudgeServer() as clean:
        async with loopback_judge(clean) as plain:
            expected = await plain.complete(judge_request(0))
    assert reply.text == expected.text and sleeps.sleeps == []


async def test_a_backup_that_fails_fast_is_retried_while_the_first_call_stalls() -> None:
    sleeps = Recorder()
    # Request 1 stalls, request 2 (the backup) gets a 500, request 3 (its retry) answers.
    with JudgeServer(fail_first_n=2, faults=("timeout", "500"), timeout_s=20.0) as server:
        async with create_openai_judge(
            server.url, "stub", timeout=60, hedge_after=0.3, sleep=sleeps
        ) as judge:
            reply = await judge.complete(judge_request(1))
            assert judge.hedged_calls == 1
        assert server.requests == 3 and server.injected == {"timeout": 1, "500": 1}
    assert len(sleeps.sleeps) == 1 and json.loads(reply.text)["verdict"] in ("met", "not_met")


async def test_a_stalled_backup_is_backed_up_in_turn() -> None:
    with JudgeServer(fail_first_n=2, faults=("timeout",), timeout_s=20.0) as server:
        async with create_openai_judge(server.url, "stub", timeout=60, hedge_after=0.3) as judge:
            reply = await judge.complete(judge_request(2))
            assert judge.hedged_calls == 2
        assert server.requests == 3 and server.injected == {"timeout": 2}
    assert json.loads(reply.text)["verdict"] in ("met", "not_met")


async def test_hedging_starts_its_clock_on_the_wire_not_in_the_queue() -> None:
    # 20 calls through one slot queue for far longer than hedge_after; each is quick on the
    # wire, so none is duplicated.
    with JudgeServer(latency_s=0.05) as server:
        async with create_openai_judge(server.url, "stub", concurrency=1, hedge_after=0.6) as judge:
            await asyncio.gather(*(judge.complete(judge_request(i)) for i in range(20)))
            assert judge.hedged_calls == 0
        assert server.requests == 20


async def test_a_stalled_call_frees_the_servers_slot_when_the_client_hangs_up() -> None:
    with JudgeServer(
        fail_first_n=1, faults=("timeout",), timeout_s=30.0, max_concurrent=1
    ) as server:
        async with loopback_judge(server, timeout=0.3, concurrency=1) as judge:
            reply = await judge.complete(judge_request(0))
        assert server.requests == 2 and json.loads(reply.text)["verdict"] in ("met", "not_met")


def test_hedge_after_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="hedge_after"):
        create_openai_judge("http://x/v1", "m", hedge_after=0)


async def test_a_cancelled_call_stays_cancelled_when_its_reply_lands_in_the_same_turn() -> None:
    # Ctrl-C cancels the run while a reply arrives: the cancellation must win, or the run
    # finishes as if never interrupted.
    reply: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    call = asyncio.ensure_future(_within(reply, 10.0))
    await asyncio.sleep(0)
    reply.set_result("verdict")
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
