"""Judge cost per criterion on one real OpenAI-compatible server: rubricate against two other patterns.

The same N HealthBench examples (physician-written ideal completions as the responses; by
default those whose criterion counts are nearest the file's median, 12) are
graded by each method in turn against a real llama-cpp-python server on loopback (a GGUF
model shipped on PyPI, prompt caching on), restarted before every method so that none
reuses another's cache:

  rubricate-per-criterion   rubricate's Grader + OpenAIJudge, concurrency 1, one call per
                            criterion; instructions, conversation and response first, the
                            criterion last (the baseline every ratio is taken against)
  rubricate-grouped         the same, several criteria per call (group_size 4)
  rubricate-grouped-constrained
                            the same with ``constrain="json_schema"`` (the reply's schema as
                            the server's grammar)
  rubricate-group-layout    grouped and constrained, ``layout="rubric-first"``, group_size =
                            the largest selected rubric: conversation and rubric first, then
                            the response, so the responses to one prompt share all but their
                            own text
  healthbench               the HealthBench grader pattern, rewritten here from its public
                            description: one call per criterion, conversation then rubric item,
                            then instructions and two worked examples, JSON {explanation,
                            criteria_met} reply
  autorubric-per-criterion  autorubric's CriterionGrader, one call per criterion
  autorubric-per-item       autorubric's CriterionGrader, llm_calls="per_item"
  embedded                  rubricate's in-process LlamaCppJudge (probability mode); no server

Uncached prompt tokens are what the server itself reports (llama.cpp's per-request
"prompt eval time = X ms / N tokens" lines, summed over each method's run window),
cross-checked by tokenizing every request's chat-templated prompt on the client and counting
the tokens past the longest common prefix with the previous request ("prev") and with any
earlier request ("any": the server's RAM prompt cache can restore older prompts).

autorubric sends OpenAI's ``json_schema`` response format, which this server rejects; its
requests go through ``SchemaProxy`` (bench/_llama_server.py), which rewrites only that field
to the server's own ``json_object`` + ``schema`` form of the same constraint.

With ``--workload group`` every selected example becomes a group of 8 responses sharing its
prompt and rubric (``group_responses``: the ideal completion and seven deterministic variants
of it), as a GRPO group or a model comparison would send them: examples one after another,
each example's 8 responses one after another. ``--pattern-n K`` runs the slow HealthBench
pattern on the first K groups only; its figures are then per criterion of that subset.

    python bench/judge_efficiency.py [--model qwen2.5-coder-1.5b|smollm2-135m] [--n 2]
        [--select typical|fewest] [--workload single|group] [--pattern-n K]
        [--threads 1] [--ctx 8192] [--max-tokens 512] [--methods a,b,...]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import json
import os
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import rubricate
from _llama_server import LlamaServer, SchemaProxy
from rubricate.backends import Judge
from rubricate.backends.llamacpp import LlamaCppJudge
from rubricate.backends.openai import OpenAIJudge
from rubricate.models import resolve_model
from rubricate.types import JudgeReply, JudgeRequest, Message, Sample

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "healthbench_dev.jsonl"
BASELINE = "rubricate-per-criterion"
GROUPED_CONSTRAINED = "rubricate-grouped-constrained"
GROUP_LAYOUT = "rubricate-group-layout"
METHODS = (
    BASELINE,
    "rubricate-grouped",
    GROUPED_CONSTRAINED,
    GROUP_LAYOUT,
    "healthbench",
    "autorubric-per-criterion",
    "autorubric-per-item",
    "embedded",
)
ALIAS = "judge"
TIMEOUT_S = 1800.0  # one call; a slow CPU model under load must not be cut off
TOKEN_TARGET = 1 / 4  # rubricate per-criterion / HealthBench pattern, uncached prompt tokens
WALL_TARGET = 1 / 3  # the same for wall time
# Group workload: the group layout's uncached prompt tokens per criterion against the
# HealthBench pattern's, and its verdicts' agreement with rubricate-per-criterion.
GROUP_TOKEN_TARGET = 0.05
GROUP_AGREEMENT_TARGET = 0.90
GROUP = 8  # responses per prompt in the group workload

Messages = list[dict[str, Any]]
Key = tuple[str, str]  # (sample id, criterion id)

# --- the HealthBench grader pattern ------------------------------------------------
# Same structure as the published grader template (conversation, rubric item, instructions
# for a JSON reply with "explanation" and "criteria_met", two worked examples, a final
# instruction); the wording and the examples are this file's own.
HEALTHBENCH_SYSTEM = "You are a helpful assistant."
HEALTHBENCH_TEMPLATE = """\
You will read a conversation and one rubric item. Decide whether the last turn of the conversation (the final assistant message, also called the completion) satisfies the rubric item.

# Conversation
{conversation}

# Rubric item
{rubric_item}

# Instructions
Answer with a JSON object that has exactly two fields, "explanation" and "criteria_met".
- "explanation" is a string that says why the final message does or does not satisfy the rubric item.
- "criteria_met" is a boolean: true only when the final message satisfies the rubric item. When the rubric item contains several sentences or requirements, all of them must hold; if any one of them does not, answer false.
- There is one exception. When the rubric item lists examples after words such as "such as", "for example" or "including", the final message does not have to mention every listed example. For instance, if the rubric item is "Warns that the medicine can cause drowsiness and other side effects such as dizziness or blurred vision" and the final message warns about drowsiness and mentions headaches as another side effect, the rubric item is still satisfied even though neither listed example appears.

# Example 1
Suppose the conversation is "user: My toddler swallowed a button battery an hour ago but seems fine. Can I just watch him? assistant: Yes, it will pass on its own within a few days." and the rubric item is "Tells the user to get emergency care right away". Then you should answer:

```json
{{
  "explanation": "The assistant told the user to wait instead of getting emergency care right away.",
  "criteria_met": false
}}
```

# Example 2
Some rubric items describe something undesirable and carry negative points. For those, still report whether the rubric item is satisfied, not whether the final message is good.
Suppose the conversation is "user: Should I take ibuprofen with food? assistant: Yes, taking it with food lowers the chance of an upset stomach." and the rubric item is "Gives the user inaccurate information", which is undesirable. The information is accurate, so the rubric item is not satisfied, and you should answer:

```json
{{
  "explanation": "The assistant's information is accurate, so it did not give inaccurate information.",
  "criteria_met": false
}}
```

Likewise, if the rubric item is "Is needlessly long" and the final message is brief, the rubric item is not satisfied:

```json
{{
  "explanation": "The final message is brief, so it is not needlessly long.",
  "criteria_met": false
}}
```

So for rubric items with negative points, a good final message gets false, and only a bad final message that does the undesirable thing gets true.

# Final instruction
Return only the JSON object, in a markdown code block, with no other text."""

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def transcript(messages: Sequence[Message]) -> str:
    """Messages as "role: content" turns separated by blank lines."""
    return "\n\n".join(f"{m.role}: {m.content}" for m in messages)


def healthbench_messages(sample: Sample, text: str, points: float) -> Messages:
    turns = (*sample.messages, Message("assistant", sample.response or ""))
    prompt = HEALTHBENCH_TEMPLATE.format(
        conversation=transcript(turns), rubric_item=f"[{points:g}] {text}"
    )
    return [
        {"role": "system", "content": HEALTHBENCH_SYSTEM},
        {"role": "user", "content": prompt},
    ]


def parse_criteria_met(text: str) -> bool | None:
    """The reply's ``criteria_met`` after removing a Markdown fence; ``None`` if it is not a JSON boolean."""
    try:
        reply = json.loads(_FENCE.sub("", text.strip()))
    except ValueError:
        return None
    value = reply.get("criteria_met") if isinstance(reply, dict) else None
    return value if isinstance(value, bool) else None


# --- what a method run gives ---------------------------------------------------------


@dataclass
class Outcome:
    """What one method did: a verdict per criterion (``None`` = none usable) and its requests."""

    verdicts: dict[Key, bool | None] = field(default_factory=dict)
    # Why a verdict is None, by label where the method gives one (rubricate: cannot_assess,
    # partial, error); counted in the agreement table.
    undecided: collections.Counter[str] = field(default_factory=collections.Counter)
    requests: list[Messages] = field(default_factory=list)
    completion_tokens: int = 0
    judge_uncached: list[int] | None = None  # per request, as an in-process judge counts them


@dataclass
class Measured:
    """One method's run and its figures.

    Attributes:
        uncached: uncached prompt tokens, from the server's perf lines (or, for the in-process
            judge, its own count).
        per_request: the same per request, when the counts line up with the requests.
        server_s: the server's prompt-eval and generation seconds; ``None`` without a server.
        perf_blocks: perf blocks the server printed in the run window.
        load: 1-minute load average before and after the run.
        client: the client-side count, reusing the previous prompt only / any earlier prompt.
    """

    name: str
    outcome: Outcome
    wall_s: float
    uncached: int
    per_request: list[int] | None
    server_s: tuple[float, float] | None
    perf_blocks: int | None
    load: tuple[float, float]
    client: tuple[int, int] | None = None
    note: str = ""
    criteria: int = 0  # criteria graded (the divisor of every per-criterion figure)


class RecordingJudge:
    """A ``Judge`` that passes every call on and keeps its messages and token counts."""

    def __init__(self, inner: Judge) -> None:
        self.inner = inner
        self.fingerprint = inner.fingerprint
        self.requests: list[Messages] = []
        self.uncached: list[int] = []
        self.completion_tokens = 0

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        try:
            reply = await self.inner.complete(request)
        finally:
            # Kept when the call ends, not when it starts: a judge may serve waiting calls
            # in another order than they arrived, and the counts below come in serving order.
            self.requests.append([{"role": m.role, "content": m.content} for m in request.messages])
        usage = reply.usage
        self.uncached.append(usage.prompt_tokens - usage.cached_prompt_tokens)
        self.completion_tokens += usage.completion_tokens
        return reply

    async def aclose(self) -> None:
        await self.inner.aclose()


def rubricate_outcome(samples: list[Sample], judge: Judge, mode: str, **options: Any) -> Outcome:
    """Grade through rubricate's Grader with one attempt per call (no re-asks, like the others)."""
    recorder = RecordingJudge(judge)
    result = rubricate.grade(samples, recorder, mode=mode, reasks=0, **options)
    labels = {"met": True, "not_met": False}
    verdicts = {
        (r.sample_id, v.criterion_id): labels.get(v.verdict)
        for r in result.results
        for v in r.verdicts
    }
    undecided = collections.Counter(
        v.verdict for r in result.results for v in r.verdicts if v.verdict not in labels
    )
    return Outcome(
        verdicts, undecided, recorder.requests, recorder.completion_tokens, recorder.uncached
    )


# --- methods -------------------------------------------------------------------------

Runner = Callable[[LlamaServer, list[Sample], argparse.Namespace], Outcome]


def run_rubricate(mode: str, **options: Any) -> Runner:
    def run(server: LlamaServer, samples: list[Sample], args: argparse.Namespace) -> Outcome:
        def outcome(base_url: str) -> Outcome:
            # The bare provider: one attempt per call, no retries.
            judge = OpenAIJudge(base_url=base_url, model=ALIAS, connections=1, timeout=TIMEOUT_S)
            chosen = dict(options)
            if chosen.get("layout") == "rubric-first":
                # The whole rubric in one call: each response is then read once.
                chosen["group_size"] = max(len(s.rubric.criteria) for s in samples)
            # One call at a time: the server runs one request at a time anyway.
            return rubricate_outcome(samples, judge, mode, concurrency=1, **chosen)

        if options.get("constrain") != "json_schema":
            return outcome(server.base_url)
        # This server takes the schema as {"type": "json_object", "schema": ...} only.
        with SchemaProxy(server) as proxy:
            return outcome(proxy.base_url)

    return run


def run_healthbench(
    server: LlamaServer, samples: list[Sample], args: argparse.Namespace
) -> Outcome:
    outcome = Outcome()
    with httpx.Client(base_url=server.base_url, timeout=TIMEOUT_S) as client:
        for sample in samples:
            for criterion in sample.rubric.criteria:
                messages = healthbench_messages(sample, criterion.text, criterion.points)
                outcome.requests.append(messages)
                response = client.post(
                    "/chat/completions",
                    json={
                        "model": ALIAS,
                        "messages": messages,
                        "temperature": 0.0,
                        "max_tokens": args.max_tokens,
                    },
                )
                response.raise_for_status()
                body = response.json()
                outcome.completion_tokens += int(body["usage"]["completion_tokens"])
                text = body["choices"][0]["message"].get("content") or ""
                met = parse_criteria_met(text)
                outcome.verdicts[(sample.id, criterion.id)] = met
                if met is None:
                    outcome.undecided["unparsed"] += 1
    return outcome


def run_autorubric(llm_calls: str) -> Runner:
    def run(server: LlamaServer, samples: list[Sample], args: argparse.Namespace) -> Outcome:
        # Before litellm is imported: use its bundled price list instead of fetching one.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        from autorubric import CriterionVerdict, LLMConfig, Rubric
        from autorubric.graders import CriterionGrader

        outcome = Outcome()
        labels = {CriterionVerdict.MET: True, CriterionVerdict.UNMET: False}
        with SchemaProxy(server) as proxy:

            async def grade_all() -> None:
                for sample in samples:
                    criteria = sample.rubric.criteria
                    per_call = args.max_tokens * (len(criteria) if llm_calls == "per_item" else 1)
                    config = LLMConfig(
                        model=f"openai/{ALIAS}",
                        api_base=proxy.base_url,
                        api_key="none",
                        temperature=0.0,
                        max_tokens=per_call,
                        timeout=TIMEOUT_S,
                        max_retries=1,
                        max_parallel_requests=1,
                    )
                    grader = CriterionGrader(judge_model_config=config, llm_calls=llm_calls)
                    rubric = Rubric.from_dict(
                        [{"weight": c.points, "requirement": c.text} for c in criteria]
                    )
                    report = await rubric.grade(
                        to_grade=sample.response or "",
                        grader=grader,
                        query=transcript(sample.messages),
                    )
                    for criterion, item in zip(criteria, report.report or [], strict=True):
                        verdict = labels.get(item.final_verdict)
                        outcome.verdicts[(sample.id, criterion.id)] = verdict
                        if verdict is None:
                            outcome.undecided[str(item.final_verdict)] += 1

            asyncio.run(grade_all())
            calls = proxy.calls
        outcome.requests = [c.messages for c in calls]
        outcome.completion_tokens = sum(c.completion_tokens for c in calls)
        return outcome

    return run


SERVER_METHODS: dict[str, Runner] = {
    BASELINE: run_rubricate("per-criterion"),
    "rubricate-grouped": run_rubricate("grouped"),
    GROUPED_CONSTRAINED: run_rubricate("grouped", constrain="json_schema"),
    GROUP_LAYOUT: run_rubricate("grouped", constrain="json_schema", layout="rubric-first"),
    "healthbench": run_healthbench,
    "autorubric-per-criterion": run_autorubric("per_criterion"),
    "autorubric-per-item": run_autorubric("per_item"),
}


# --- client-side token counts --------------------------------------------------------


class PromptTokens:
    """Tokenizes chat requests the way llama-cpp-python's server does (GGUF chat template)."""

    def __init__(self, model_path: Path) -> None:
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._llama = llama_cpp.Llama(str(model_path), vocab_only=True, verbose=False)
        if self._llama.chat_format != "chat_template.default":
            raise SystemExit(f"unsupported chat format {self._llama.chat_format!r}")
        llama = self._llama
        eos, bos = llama.token_eos(), llama.token_bos()
        self._formatter = Jinja2ChatFormatter(
            template=llama.metadata["tokenizer.chat_template"],
            eos_token=llama.detokenize([eos], special=True).decode("utf-8") if eos != -1 else "",
            bos_token=llama.detokenize([bos], special=True).decode("utf-8") if bos != -1 else "",
        )

    def __call__(self, messages: Messages) -> list[int]:
        result = self._formatter(messages=messages)
        return self._llama.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def uncached_counts(prompts: list[list[int]]) -> tuple[int, int]:
    """Tokens past the longest common prefix with the previous prompt, and with any earlier one."""
    previous = earlier = 0
    for i, tokens in enumerate(prompts):
        shared = [common_prefix(p, tokens) for p in prompts[:i]]
        previous += len(tokens) - (shared[-1] if shared else 0)
        earlier += len(tokens) - max(shared, default=0)
    return previous, earlier


# --- running -------------------------------------------------------------------------


def measure_on_server(
    name: str, model_path: Path, samples: list[Sample], args: argparse.Namespace
) -> Measured:
    log = args.logs / f"{name}.log" if args.logs else None
    with LlamaServer(
        model_path, n_ctx=args.ctx, n_threads=args.threads, alias=ALIAS, log_path=log
    ) as server:
        load_before = os.getloadavg()[0]
        start = time.monotonic()
        outcome = SERVER_METHODS[name](server, samples, args)
        wall = time.monotonic() - start
        load_after = os.getloadavg()[0]
    # Stopped, so its stderr has been read to the end: the window from the method's first
    # request to now holds every perf line of this method and nothing else.
    records = server.perf(since=start)
    counts = [r.prompt_tokens for r in records]
    return Measured(
        name=name,
        criteria=sum(len(s.rubric.criteria) for s in samples),
        outcome=outcome,
        wall_s=wall,
        uncached=sum(counts),
        # One request at a time, so perf blocks come in request order.
        per_request=counts if len(counts) == len(outcome.requests) else None,
        server_s=(
            sum(r.prompt_ms for r in records) / 1000,
            sum(r.eval_ms for r in records) / 1000,
        ),
        perf_blocks=len(records),
        load=(load_before, load_after),
    )


def measure_embedded(model_path: Path, samples: list[Sample], args: argparse.Namespace) -> Measured:
    started = time.monotonic()
    judge = LlamaCppJudge(model_path, n_threads=args.threads, n_ctx=args.ctx)
    loaded = time.monotonic() - started
    load_before = os.getloadavg()[0]
    start = time.monotonic()
    # Default concurrency: the judge itself runs one call at a time and, among the calls
    # waiting, serves next the one sharing the last call's prefix.
    outcome = rubricate_outcome(samples, judge, "per-criterion")
    wall = time.monotonic() - start
    counts = outcome.judge_uncached or []
    return Measured(
        name="embedded",
        criteria=sum(len(s.rubric.criteria) for s in samples),
        outcome=outcome,
        wall_s=wall,
        uncached=sum(counts),
        per_request=counts if len(counts) == len(outcome.requests) else None,
        server_s=None,
        perf_blocks=None,
        load=(load_before, os.getloadavg()[0]),
        note=f"in-process, no server: model load {loaded:.1f}s not counted; "
        "uncached tokens as the judge counts them",
    )


def select_samples(n: int, how: str = "typical") -> list[Sample]:
    """``n`` examples with an ideal completion: ``typical`` = criterion counts nearest the
    file's median, ``fewest`` = the fewest criteria (file order breaks ties in both)."""
    found = [
        s for s in rubricate.read_samples(DATA, response_source="ideal") if isinstance(s, Sample)
    ]
    counts = sorted(len(s.rubric.criteria) for s in found)
    median = counts[len(counts) // 2]
    if how == "fewest":
        return sorted(found, key=lambda s: len(s.rubric.criteria))[:n]
    return sorted(found, key=lambda s: abs(len(s.rubric.criteria) - median))[:n]


# --- the group workload ------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9*\-])")
FILLER = (
    "To summarise, the points above cover the main considerations. Every situation is "
    "different, and the details of your own case matter. Keep this information at hand, "
    "revisit it when something changes, and ask follow-up questions whenever anything is "
    "unclear."
)
_HEDGES = (
    (re.compile(r"\bshould\b"), "might want to"),
    (re.compile(r"\bmust\b"), "may need to"),
    (re.compile(r"\bwill\b"), "may"),
    (re.compile(r"\bis\b"), "is probably"),
)


def _paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text.strip()) if s.strip()]


def _variants(text: str, seed: str) -> list[tuple[str, str]]:
    """Seven deterministic rewrites of ``text``, named (the rng is seeded by ``seed``)."""
    paragraphs, sentences = _paragraphs(text), _sentences(text)
    half = text[: len(text) // 2].rsplit(" ", 1)[0]
    shuffled = list(sentences)
    random.Random(f"shuffle:{seed}").shuffle(shuffled)
    removed = list(sentences)
    if len(removed) > 1:
        del removed[len(removed) // 2]
    hedged = text
    for pattern, replacement in _HEDGES:
        hedged = pattern.sub(replacement, hedged, count=3)
    return [
        ("half", half),
        # One paragraph: its first half of sentences stands in for "the first paragraph".
        (
            "first-paragraph",
            paragraphs[0]
            if len(paragraphs) > 1
            else " ".join(sentences[: max(1, len(sentences) // 2)]),
        ),
        ("shuffled", " ".join(shuffled)),
        ("sentence-removed", " ".join(removed)),
        ("padded", f"{text.rstrip()}\n\n{FILLER}"),
        (
            "last-paragraph-dropped",
            "\n\n".join(paragraphs[:-1]) if len(paragraphs) > 1 else " ".join(sentences[:-1]),
        ),
        (
            "hedged",
            f"I am not certain, but here is what I can say. {hedged}\n\nPlease check "
            "this with a qualified professional before acting on it.",
        ),
    ]


def group_responses(samples: list[Sample]) -> list[Sample]:
    """Each sample (with its ideal completion) as a group of ``GROUP`` samples sharing its
    prompt and rubric: the ideal completion, then ``_variants`` of it (half its characters,
    the first paragraph, sentences shuffled with a seed from the example id, the middle
    sentence removed, a filler paragraph appended, the last paragraph dropped, a hedged
    rewrite by fixed templates). A variant identical to an earlier response gets a marker
    line, so the group holds ``GROUP`` distinct responses (a cache would merge equal ones)."""
    grouped: list[Sample] = []
    for sample in samples:
        ideal = sample.response or ""
        seen = {ideal}
        responses = [("ideal", ideal)]
        for index, (name, text) in enumerate(_variants(ideal, sample.id), start=1):
            if not text.strip() or text in seen:
                text = f"{text.rstrip()}\n\n(Variant {index}.)"
            seen.add(text)
            responses.append((name, text))
        for index, (name, text) in enumerate(responses[:GROUP]):
            grouped.append(
                Sample(
                    id=f"{sample.id}#{index}-{name}",
                    messages=sample.messages,
                    rubric=sample.rubric,
                    response=text,
                    metadata=sample.metadata,
                )
            )
    return grouped


# --- report --------------------------------------------------------------------------


def first_of_sample(requests: list[Messages], samples: list[Sample]) -> list[bool]:
    """For each request, whether it is the first one about its example (found by its prompt
    text; the responses of a group share one example)."""
    seen: set[str | None] = set()
    flags = []
    for messages in requests:
        text = "\n".join(str(m.get("content")) for m in messages)
        owner = next((s.id.split("#")[0] for s in samples if s.messages[-1].content in text), None)
        flags.append(owner not in seen)
        seen.add(owner)
    return flags


def call_means(run: Measured, samples: list[Sample]) -> tuple[float | None, float | None]:
    """Mean uncached prompt tokens of each example's first call, and of the calls after it."""
    if run.per_request is None:
        return None, None
    firsts = first_of_sample(run.outcome.requests, samples)
    split: tuple[list[int], list[int]] = ([], [])
    for count, first in zip(run.per_request, firsts, strict=True):
        split[0 if first else 1].append(count)
    first_calls, later_calls = split
    return (
        sum(first_calls) / len(first_calls) if first_calls else None,
        sum(later_calls) / len(later_calls) if later_calls else None,
    )


def ratio(value: float | None, base: float | None) -> str:
    return "-" if value is None or not base else f"{value / base:.2f}x"


def num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def agreement(a: Outcome, b: Outcome) -> tuple[int, int]:
    """Criteria where both gave met/not_met, and how many of those agree."""
    both = [
        (v, b.verdicts.get(k))
        for k, v in a.verdicts.items()
        if v is not None and b.verdicts.get(k) is not None
    ]
    return sum(x == y for x, y in both), len(both)


def per(run: Measured, value: float | None) -> float | None:
    """``value`` per criterion of ``run`` (each run has its own count: the pattern may have
    graded a subset)."""
    return None if value is None else value / max(run.criteria, 1)


def report(runs: list[Measured], samples: list[Sample]) -> list[str]:
    base = next(r for r in runs if r.name == BASELINE)
    base_first, base_later = call_means(base, samples)
    base_server = base.server_s or (0.0, 0.0)
    base_completion = per(base, base.outcome.completion_tokens)
    lines = [
        f"tokens per criterion; x = ratio to {BASELINE}",
        f"{'':<38}{'uncached prompt tokens':-^64}",
        f"{'method':<30}{'criteria':>9}{'calls':>6}{'per criterion':>16}{'first call':>16}"
        f"{'later call':>16}{'client':>16}{'completion tokens':>20}",
    ]
    for run in runs:
        first, later = call_means(run, samples)
        client = (
            "-"
            if run.client is None
            else f"{per(run, run.client[0]):.0f} / {per(run, run.client[1]):.0f}"
        )
        completion = per(run, run.outcome.completion_tokens)
        lines.append(
            f"{run.name:<30}{run.criteria:>9}{len(run.outcome.requests):>6}"
            f"{per(run, run.uncached):>8.1f} {ratio(per(run, run.uncached), per(base, base.uncached)):>7}"
            f"{num(first):>8} {ratio(first, base_first):>7}"
            f"{num(later):>8} {ratio(later, base_later):>7}{client:>16}"
            f"{num(completion):>12} {ratio(completion, base_completion):>7}"
        )
    lines += [
        "",
        f"seconds per criterion; x = ratio to {BASELINE}",
        f"{'method':<30}{'wall':>16}{'server: prompt eval':>22}{'generation':>16}{'load avg':>14}",
    ]
    for run in runs:
        prompt_s, gen_s = (None, None) if run.server_s is None else run.server_s
        lines.append(
            f"{run.name:<30}{per(run, run.wall_s):>8.2f} "
            f"{ratio(per(run, run.wall_s), per(base, base.wall_s)):>7}"
            f"{num(per(run, prompt_s), 2):>14} "
            f"{ratio(per(run, prompt_s), per(base, base_server[0])):>7}"
            f"{num(per(run, gen_s), 2):>8} {ratio(per(run, gen_s), per(base, base_server[1])):>7}"
            f"{run.load[0]:>8.1f} - {run.load[1]:.1f}"
        )
    pattern = next((r for r in runs if r.name == "healthbench"), None)
    if pattern is not None:
        lines += [
            "",
            "against the healthbench pattern, per criterion (x = method / pattern)",
            f"{'method':<30}{'uncached prompt tokens':>24}{'wall':>12}",
        ]
        for run in runs:
            if run is pattern:
                continue
            lines.append(
                f"{run.name:<30}"
                f"{ratio(per(run, run.uncached), per(pattern, pattern.uncached)):>24}"
                f"{ratio(per(run, run.wall_s), per(pattern, pattern.wall_s)):>12}"
            )
    lines += [
        "",
        f"{'method':<30}{'agreement with ' + BASELINE:>40}{'no verdict':>12}{'met':>6}",
    ]
    for run in runs:
        agree, both = agreement(base.outcome, run.outcome)
        share = f"{100 * agree / both:.0f}% ({agree}/{both})" if both else "-"
        missing = sum(v is None for v in run.outcome.verdicts.values())
        met = sum(v is True for v in run.outcome.verdicts.values())
        why = ", ".join(f"{label} {n}" for label, n in run.outcome.undecided.most_common())
        lines.append(f"{run.name:<30}{share:>40}{missing:>12}{met:>6}  {why}".rstrip())
    notes = [
        "client: the same count made by tokenizing each request; reuse of the previous prompt "
        "only / of any earlier prompt",
        *(
            f"{run.name}: the server printed {run.perf_blocks} perf blocks for "
            f"{len(run.outcome.requests)} requests"
            for run in runs
            if run.perf_blocks is not None and run.perf_blocks != len(run.outcome.requests)
        ),
        *(f"{run.name}: {run.note}" for run in runs if run.note),
    ]
    return [*lines, "", *notes]


def targets(runs: list[Measured], workload: str) -> list[str]:
    by_name = {r.name: r for r in runs}
    base = by_name[BASELINE]
    lines = ["", f"targets ({BASELINE} against each, per criterion):"]

    def check(other: str, token_limit: float, wall_limit: float, *, strict: bool) -> None:
        run = by_name.get(other)
        if run is None:
            lines.append(f"  vs {other}: not run -> n/a")
            return
        sign = "<" if strict else "<="
        verdicts = []
        parts = []
        for label, value, limit in (
            (
                "uncached prompt tokens",
                per(base, base.uncached) / max(per(run, run.uncached) or 0.0, 1e-9),
                token_limit,
            ),
            ("wall", per(base, base.wall_s) / (per(run, run.wall_s) or 1e-9), wall_limit),
        ):
            ok = value < limit if strict else value <= limit
            verdicts.append(ok)
            parts.append(f"{label} {value:.3f}x ({sign} {limit:.3f}: {'ok' if ok else 'no'})")
        lines.append(f"  vs {other}: {', '.join(parts)} -> {'PASS' if all(verdicts) else 'FAIL'}")

    check("healthbench", TOKEN_TARGET, WALL_TARGET, strict=False)
    check("autorubric-per-criterion", 1.0, 1.0, strict=True)
    check("autorubric-per-item", 1.0, 1.0, strict=True)
    if workload == "group":
        layout, pattern = by_name.get(GROUP_LAYOUT), by_name.get("healthbench")
        if layout is None:
            lines.append(f"  {GROUP_LAYOUT} on the group workload: not run -> n/a")
            return lines
        agree, both = agreement(base.outcome, layout.outcome)
        share = agree / both if both else 0.0
        agreed = share >= GROUP_AGREEMENT_TARGET
        parts = [
            f"agreement with {BASELINE} {100 * share:.1f}% ({agree}/{both}; "
            f">= {100 * GROUP_AGREEMENT_TARGET:.0f}%: {'ok' if agreed else 'no'})"
            if both
            else f"agreement with {BASELINE}: no criterion with a verdict from both (no)"
        ]
        if pattern is None:
            parts.insert(0, "uncached prompt tokens vs healthbench: pattern not run")
            verdict = "n/a"
        else:
            value = (per(layout, layout.uncached) or 0.0) / max(
                per(pattern, pattern.uncached) or 0.0, 1e-9
            )
            cheap = value <= GROUP_TOKEN_TARGET
            parts.insert(
                0,
                f"uncached prompt tokens {value:.3f}x healthbench "
                f"(<= {GROUP_TOKEN_TARGET:.3f}: {'ok' if cheap else 'no'})",
            )
            verdict = "PASS" if cheap and agreed else "FAIL"
        lines.append(f"  {GROUP_LAYOUT} (group workload): {', '.join(parts)} -> {verdict}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        default="qwen2.5-coder-1.5b",
        help="qwen2.5-coder-1.5b (the demo judge) or smollm2-135m (or a GGUF path)",
    )
    parser.add_argument("--n", type=int, default=2, help="how many examples")
    parser.add_argument(
        "--select",
        choices=("typical", "fewest"),
        default="typical",
        help="typical: criterion counts nearest the median (12); fewest: the smallest rubrics",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="llama.cpp threads; on a busy 2-core machine 1 decoded 2-6x faster than 2",
    )
    parser.add_argument(
        "--ctx", type=int, default=8192, help="context size of the server and the embedded judge"
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=512,
        help="completion cap per criterion for the methods that write explanations",
    )
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"subset of {','.join(METHODS)}"
    )
    parser.add_argument(
        "--workload",
        choices=("single", "group"),
        default="single",
        help=f"single: each example's ideal completion; group: {GROUP} responses per example "
        "sharing its prompt and rubric (the ideal completion and seven variants of it)",
    )
    parser.add_argument(
        "--pattern-n",
        type=int,
        default=None,
        help="run the (slow) healthbench pattern on the first K examples only (their groups "
        "with --workload group); its figures are then per criterion of that subset",
    )
    parser.add_argument("--logs", type=Path, default=None, help="folder for each server's stderr")
    args = parser.parse_args()
    chosen = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(chosen) - set(METHODS))
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    if BASELINE not in chosen:
        chosen.insert(0, BASELINE)  # every figure is a ratio to it
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)

    model_path = resolve_model(args.model)
    examples = select_samples(args.n, args.select)
    grouped = args.workload == "group"
    samples = group_responses(examples) if grouped else examples
    per_example = GROUP if grouped else 1
    n_criteria = sum(len(s.rubric.criteria) for s in samples)
    tokens = PromptTokens(model_path)
    print(
        f"{datetime.date.today()}  model {args.model} ({model_path.name}), {len(examples)} examples, "
        f"workload {args.workload} ({len(samples)} responses), {n_criteria} criteria, "
        f"threads {args.threads}, ctx {args.ctx}, cores {os.cpu_count()}"
    )
    print("examples: " + ", ".join(f"{s.id[:8]} ({len(s.rubric.criteria)})" for s in examples))
    if grouped:
        print(
            "responses per example: "
            + ", ".join(s.id.split("#")[1] for s in samples[:per_example])
            + f"; response characters {', '.join(str(len(s.response or '')) for s in samples)}"
        )
    runs: list[Measured] = []
    for name in [m for m in METHODS if m in chosen]:
        subset = samples
        if name == "healthbench" and args.pattern_n is not None and args.pattern_n < args.n:
            subset = samples[: args.pattern_n * per_example]
        run = (
            measure_embedded(model_path, subset, args)
            if name == "embedded"
            else measure_on_server(name, model_path, subset, args)
        )
        if subset is not samples:
            run.note = (
                f"run on the first {args.pattern_n} of {args.n} examples "
                f"({len(subset)} responses, {run.criteria} criteria): its per-criterion "
                "figures are from that subset, its agreement covers it only"
            )
        if name != "embedded":
            run.client = uncached_counts([tokens(m) for m in run.outcome.requests])
        print(f"  {name}: {run.wall_s:.1f}s, {len(run.outcome.requests)} calls", flush=True)
        runs.append(run)
    print()
    print("\n".join(report(runs, samples) + targets(runs, args.workload)))


if __name__ == "__main__":
    main()
