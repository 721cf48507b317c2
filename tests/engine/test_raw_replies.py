"""Kept judge replies (``keep_replies``): on the results line, across the cache, under a jury,
read back strictly and re-scored; and nothing of them when they are not asked for."""

import asyncio
import json
import sqlite3

import pytest

import rubricate
from rubricate.backends.scripted import ScriptedJudge, criteria_in
from rubricate.engine import GradeOptions, Grader, Jury, JuryMember
from rubricate.errors import BackendError, InputError
from rubricate.results import SampleResult
from rubricate.runs import RunAccumulator, read_results, rescore_results
from rubricate.store import open_store
from tests.helpers import make_sample

REPLY_FIELDS = ("raw_reply", "raw_replies")


def per_criterion_reply(request) -> str:
    """A distinct reply per criterion, so each verdict's reply can be told apart."""
    (cid, _text), *_ = criteria_in(request)
    return json.dumps({"verdict": "met", "note": f"about {cid}"})


def grouped_reply(request) -> str:
    found = criteria_in(request)
    return json.dumps({"verdicts": [{"id": cid, "verdict": "met"} for cid, _ in found]})


def without_reply_fields(line: SampleResult) -> str:
    data = json.loads(line.model_dump_json())
    data.pop("raw_replies")
    for record in data["verdicts"]:
        record.pop("raw_reply", None)
        for vote in record["jury"] or ():
            vote.pop("raw_reply", None)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def test_off_writes_the_line_it_always_wrote_and_on_only_adds_the_replies() -> None:
    samples = [make_sample("s", [7, 5, -6])]
    off = rubricate.grade(samples, ScriptedJudge(reply=per_criterion_reply))
    on = rubricate.grade(samples, ScriptedJudge(reply=per_criterion_reply), keep_replies=True)
    off_line = off.results[0].model_dump_json()
    assert not any(name in off_line for name in REPLY_FIELDS)
    assert "replies" not in off.summary.model_dump(mode="json")
    # The same line byte for byte once the reply fields are taken out of the kept run's.
    assert without_reply_fields(on.results[0]) == off_line


def test_per_criterion_each_verdict_points_to_its_own_reply() -> None:
    sample = make_sample("s", [7, 5, -6])
    result = rubricate.grade([sample], ScriptedJudge(reply=per_criterion_reply), keep_replies=True)
    line = result.results[0]
    assert line.raw_replies is not None and len(line.raw_replies) == 3
    for record in line.verdicts:
        reply = line.reply_for(record.raw_reply)
        assert reply is not None and reply.reasks == 0
        assert json.loads(reply.text or "")["note"] == f"about {record.criterion_id}"
    assert result.summary.replies is not None
    assert result.summary.replies.kept == 3 and result.summary.replies.missing == {}


def test_grouped_reply_is_kept_once_and_a_reask_reply_with_its_count() -> None:
    calls = []

    def reply(request):
        calls.append(request)
        found = criteria_in(request)
        keep = found[:-1] if len(calls) == 1 else found  # the first reply leaves one out
        return json.dumps({"verdicts": [{"id": cid, "verdict": "met"} for cid, _ in keep]})

    result = rubricate.grade(
        [make_sample("s", [1, 1, 1, 1])],
        ScriptedJudge(reply=reply),
        mode="grouped",
        group_size=4,
        keep_replies=True,
    )
    line = result.results[0]
    assert line.raw_replies is not None and len(line.raw_replies) == 2
    positions = [r.raw_reply for r in line.verdicts]
    assert positions == [0, 0, 0, 1]
    first, second = line.raw_replies
    assert first.reasks == 0 and len(json.loads(first.text or "")["verdicts"]) == 3
    assert second.reasks == 1 and json.loads(second.text or "")["verdicts"][0]["id"] == "s-c3"


def test_an_error_keeps_the_reply_it_could_not_use_and_a_failed_call_says_so() -> None:
    garbled = rubricate.grade(
        [make_sample("s", [1])],
        ScriptedJudge(reply=lambda _r: "no idea"),
        reasks=1,
        keep_replies=True,
    )
    line = garbled.results[0]
    assert line.verdicts[0].verdict == "error"
    reply = line.reply_for(line.verdicts[0].raw_reply)
    assert reply is not None and reply.text == "no idea" and reply.reasks == 1

    class Down:
        fingerprint = "down"

        async def complete(self, request):
            raise BackendError("refused", retryable=False)

        async def aclose(self) -> None:
            pass

    failed = rubricate.grade([make_sample("s", [1, 2])], Down(), keep_replies=True)
    line = failed.results[0]
    assert line.raw_replies is not None
    assert [(r.text, r.missing) for r in line.raw_replies] == [(None, "failed_call")]
    assert failed.summary.replies is not None
    assert failed.summary.replies.missing == {"failed_call": 2}
    assert failed.summary.replies.kept == 0


@pytest.mark.parametrize("mode", ["per-criterion", "grouped"])
def test_a_rerun_from_the_cache_makes_no_call_and_keeps_the_replies(tmp_path, mode) -> None:
    store = tmp_path / "c.sqlite"
    samples = [make_sample(f"s{i}", [1, 2, 3, -1]) for i in range(3)]
    reply = per_criterion_reply if mode == "per-criterion" else grouped_reply
    first = rubricate.grade(
        samples, ScriptedJudge(reply=reply), store=store, mode=mode, keep_replies=True
    )
    again = ScriptedJudge(reply=reply)
    second = rubricate.grade(samples, again, store=store, mode=mode, keep_replies=True)
    assert again.calls == 0 and second.summary.counts.cache_hits == 12
    assert [r.model_dump_json() for r in second.results] == [
        r.model_dump_json() for r in first.results
    ]
    assert second.summary.replies is not None and second.summary.replies.kept == 12
    with sqlite3.connect(store) as db:
        stored = db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]
    # Grouped: one reply per sample decides all four criteria and is stored once.
    assert stored == (12 if mode == "per-criterion" else 3)


def test_a_cache_written_without_replies_is_marked_not_cached_and_grows_nothing(tmp_path) -> None:
    store = tmp_path / "c.sqlite"
    samples = [make_sample("s", [1, 2])]
    plain = rubricate.grade(samples, ScriptedJudge(), store=store)
    assert "raw_repl" not in plain.results[0].model_dump_json()
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*) FROM replies").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM judgment_replies").fetchone()[0] == 0
    judge = ScriptedJudge()
    kept = rubricate.grade(samples, judge, store=store, keep_replies=True)
    assert judge.calls == 0
    line = kept.results[0]
    assert line.raw_replies is not None
    assert [(r.text, r.missing) for r in line.raw_replies] == [(None, "not_cached")]
    assert all(r.raw_reply == 0 for r in line.verdicts)
    assert kept.summary.replies is not None
    assert kept.summary.replies.missing == {"not_cached": 2} and kept.summary.replies.kept == 0


def test_a_jury_keeps_each_members_reply_per_vote(tmp_path) -> None:
    def member(name: str) -> ScriptedJudge:
        def reply(request):
            (cid, _), *_ = criteria_in(request)
            return json.dumps({"verdict": "met", "by": f"{name} on {cid}"})

        return ScriptedJudge(reply=reply, fingerprint=f"judge-{name}")

    judges = [member(n) for n in ("a", "b", "c")]
    jury = Jury(tuple(JuryMember(j) for j in judges), "majority")
    store, _ = open_store(tmp_path / "c.sqlite")
    options = GradeOptions(keep_replies=True)

    async def run(grader):
        accumulator, results = RunAccumulator(), []
        async for result in grader.iter_grade([make_sample("s", [1, 2])]):
            results.append(result)
            accumulator.add(result)
        return results, accumulator.graded(grader)

    results, summary = asyncio.run(run(Grader(judges[0], store=store, options=options, jury=jury)))
    line = results[0]
    for record in line.verdicts:
        assert record.raw_reply is None  # the jury's verdict is its rule's, not a reply's
        assert record.jury is not None
        said = [json.loads(line.reply_for(v.raw_reply).text)["by"] for v in record.jury]
        assert said == [f"{n} on {record.criterion_id}" for n in ("a", "b", "c")]
    assert summary.replies is not None and summary.replies.kept == 6
    # From the cache: no member is called and every vote still has its reply.
    again = [member(n) for n in ("a", "b", "c")]
    jury = Jury(tuple(JuryMember(j) for j in again), "majority")
    cached, _ = asyncio.run(run(Grader(again[0], store=store, options=options, jury=jury)))
    assert sum(j.calls for j in again) == 0
    assert cached[0].model_dump_json() == line.model_dump_json()
    store.close()


def kept_line() -> dict:
    result = rubricate.grade(
        [make_sample("s", [1, 2])], ScriptedJudge(reply=per_criterion_reply), keep_replies=True
    )
    return json.loads(result.results[0].model_dump_json())


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda d: d["verdicts"][0].update(raw_reply="0"), "verdicts.0.raw_reply"),
        (lambda d: d["verdicts"][0].update(raw_reply=True), "verdicts.0.raw_reply"),
        (lambda d: d["verdicts"][1].update(raw_reply=-1), "verdicts.1.raw_reply"),
        (lambda d: d["verdicts"][0].update(raw_reply=5), "verdicts.0.raw_reply"),
        (lambda d: d["raw_replies"][0].update(text=5), "raw_replies.0.text"),
        (lambda d: d["raw_replies"][1].update(reasks=1.5), "raw_replies.1.reasks"),
        (lambda d: d["raw_replies"][0].update(text=None), "raw_replies.0"),
        (lambda d: d["raw_replies"][0].update(missing="lost"), "raw_replies.0.missing"),
        (lambda d: d.update(raw_replies="text"), "raw_replies"),
    ],
)
def test_a_bad_reply_field_is_refused_naming_file_line_and_field(tmp_path, edit, named) -> None:
    data = kept_line()
    edit(data)
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(kept_line()) + "\n" + json.dumps(data) + "\n")
    with pytest.raises(InputError) as caught:
        list(read_results(path))
    message = str(caught.value)
    assert str(path) in message and ":2" in message and named in message


def test_score_reads_the_replies_back_and_keeps_them(tmp_path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(kept_line()) + "\n")
    rescored = tmp_path / "rescored.jsonl"
    summary, edited = rescore_results([path], write_to=rescored)
    assert edited == 0
    assert summary.replies is not None and summary.replies.kept == 2
    ((_, line),) = read_results(rescored)
    assert line.raw_replies is not None
    assert [json.loads(line.reply_for(r.raw_reply).text)["note"] for r in line.verdicts] == [
        "about s-c0",
        "about s-c1",
    ]
