"""The ask loop: strict parsing, bounded re-asks, failures counted, calls cached."""

from __future__ import annotations

from rubricate.generate import GenerateOptions, Rules
from rubricate.generate._write import Writer
from rubricate.store import Store
from rubricate.types import JudgeRequest, Message

from .conftest import criteria_json, generation_prompts, scripted

PROMPT = "Name the capital of France in one sentence."
MESSAGES = (Message("system", "write a rubric"), Message("user", PROMPT))
GOOD = criteria_json(
    ("States that Paris is the capital of France.", "principle", "essential", "accuracy"),
    ("Answers in exactly one sentence.", "hard_rule", "important", "instruction_following"),
)


async def test_bad_json_is_reasked_then_accepted() -> None:
    seen: list[JudgeRequest] = []
    judge = generation_prompts(scripted(["Sure! Paris.", GOOD]), seen)
    writer = Writer(judge, options=GenerateOptions(reasks=2))
    written = await writer.write(MESSAGES, Rules(context=PROMPT))
    assert written.ok and next(c.text for c in written.criteria).startswith("States that Paris")
    assert writer.stats.unparseable_replies == 1 and writer.stats.reasks == 1
    # The re-ask shows the model its own reply and what was wrong with it.
    assert seen[1].messages[-2] == Message("assistant", "Sure! Paris.")
    assert "could not be used" in seen[1].messages[-1].content


async def test_still_bad_after_bounded_reasks_fails_and_invents_nothing() -> None:
    judge = scripted(["no", "still no", "never", GOOD])
    writer = Writer(judge, options=GenerateOptions(reasks=2))
    written = await writer.write(MESSAGES, Rules(context=PROMPT))
    assert not written.ok and written.criteria == []
    assert "no parseable rubric after 3 replies" in (written.error or "")
    assert judge.calls == 3 and writer.stats.unparseable_replies == 3


async def test_rejected_criteria_are_reasked_with_reasons_and_merged() -> None:
    first = criteria_json(
        ("States that Paris is the capital of France.", "principle", "essential"),
        ("The response is helpful.", "principle", "optional"),
    )
    second = criteria_json(("Names Paris as the capital city of France.", "principle", "important"))
    seen: list[JudgeRequest] = []
    judge = generation_prompts(scripted([first, second]), seen)
    writer = Writer(judge, options=GenerateOptions(reasks=1, min_criteria=2))
    written = await writer.write(MESSAGES, Rules(context=PROMPT))
    assert written.ok and len(written.criteria) == 2
    assert '"The response is helpful.": vague, prompt_independent' in seen[1].messages[-1].content
    assert writer.stats.criteria_rejected == 1 and writer.stats.rejections == {
        "vague": 1,
        "prompt_independent": 1,
    }


async def test_too_few_valid_criteria_fail_with_the_reasons() -> None:
    only_vague = criteria_json(("The response is helpful.", "principle", "optional"))
    writer = Writer(scripted([only_vague]), options=GenerateOptions(reasks=1))
    written = await writer.write(MESSAGES, Rules(context=PROMPT))
    assert (
        not written.ok
        and written.error == "0 valid criteria (need 2); rejected: prompt_independent, vague"
    )


async def test_duplicates_in_a_reply_are_removed_and_the_cap_holds() -> None:
    reply = criteria_json(
        ("States that Paris is the capital of France.", "principle", "essential"),
        ("The response states that Paris is the capital of France!", "principle", "essential"),
        ("Answers in exactly one sentence about France.", "hard_rule", "important"),
        ("Spells the name Paris with a capital P for France.", "hard_rule", "optional"),
    )
    writer = Writer(scripted([reply]), options=GenerateOptions(max_criteria=2))
    written = await writer.write(MESSAGES, Rules(context=PROMPT))
    assert len(written.criteria) == 2 and writer.stats.duplicates_removed == 1


async def test_calls_are_cached_in_the_store(tmp_path) -> None:
    with Store(tmp_path / "cache.sqlite") as store:
        first = scripted([GOOD])
        await Writer(first, store=store).write(MESSAGES, Rules(context=PROMPT))
        again = scripted([GOOD])
        writer = Writer(again, store=store)
        written = await writer.write(MESSAGES, Rules(context=PROMPT))
        assert written.ok and again.calls == 0 and writer.stats.generator_cache_hits == 1
        # A different seed is a different request.
        other = scripted([GOOD])
        await Writer(other, store=store, options=GenerateOptions(seed=1)).write(
            MESSAGES, Rules(context=PROMPT)
        )
        assert other.calls == 1


async def test_a_reply_cut_off_at_the_limit_is_asked_again_from_a_fresh_prompt() -> None:
    seen: list[JudgeRequest] = []
    looping = '{"criteria": [{"criterion": "States that Paris is the capital of France.", "kind": "principle"'
    judge = generation_prompts(scripted([looping, GOOD]), seen)
    writer = Writer(judge, options=GenerateOptions(reasks=1, max_criteria=3))
    written = await writer.write(MESSAGES, Rules(context=PROMPT))
    assert written.ok and writer.stats.reasks == 1
    # Not shown its broken reply (a greedy model would repeat it); told the limit instead.
    assert [m.role for m in seen[1].messages] == ["system", "user"]
    assert "Write at most 3 short criteria" in seen[1].messages[-1].content
