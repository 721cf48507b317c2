"""verl entry points, called exactly as verl's reward managers call them, against a loopback judge.

Call sites (volcengine/verl): ``NaiveRewardManager.__call__`` calls
``compute_score(data_source=, solution_str=, ground_truth=, extra_info=)`` once per sample,
with ``extra_info`` gaining ``num_turns`` and ``rollout_reward_scores``; the reward-loop
manager makes the same call through ``loop.run_in_executor`` (sync) or awaits it (async);
``BatchRewardManager.verify`` calls ``compute_score(data_sources=, solution_strs=,
ground_truths=, extra_infos=, **reward_kwargs)``. ``get_custom_reward_fn`` merges the config's
``reward_kwargs`` into every call.
"""

from __future__ import annotations

import asyncio
import copy
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rubricate.errors import ConfigError, InputError
from rubricate.rewards import verl as rv
from tests.rewards.rows import RESPONSES, RUBRIC, own_scores, ruscarl_row
from tests.support.judge_server import JudgeServer

EXTRA_KEYS = {"score", "rubric_score", "ungradable", "n_criteria", "n_errors", "gate_failed"}


def naive_call(row: dict, response: str, **reward_kwargs: object) -> dict[str, float]:
    """What NaiveRewardManager does for one item (plus get_custom_reward_fn's kwargs merge)."""
    extra_info = copy.deepcopy(row.get("extra_info", {}))
    extra_info["num_turns"] = None
    extra_info["rollout_reward_scores"] = {}
    return rv.compute_score(
        data_source=row["data_source"],
        solution_str=response,
        ground_truth=row["reward_model"]["ground_truth"],
        extra_info=extra_info,
        **reward_kwargs,
    )


def batch_call(
    rows: list[dict], responses: list[str], **reward_kwargs: object
) -> list[dict[str, float]]:
    """What BatchRewardManager.verify does."""
    extras = [copy.deepcopy(r.get("extra_info", {})) for r in rows]
    for extra in extras:
        extra["rollout_reward_scores"] = {}
    return rv.compute_score_batch(
        data_sources=[r["data_source"] for r in rows],
        solution_strs=responses,
        ground_truths=[r["reward_model"].get("ground_truth", None) for r in rows],
        extra_infos=extras,
        **reward_kwargs,
    )


def test_naive_call_scores_equal_rubricate_grading(
    judge_server: JudgeServer, judge_kwargs: dict
) -> None:
    row = ruscarl_row()
    got = [naive_call(row, text, **judge_kwargs) for text in RESPONSES]
    expected = own_scores(judge_server.url, RESPONSES)
    assert [g["score"] for g in got] == pytest.approx(expected)
    assert [g["rubric_score"] for g in got] == pytest.approx(expected)
    assert all(set(g) == EXTRA_KEYS for g in got)  # same keys for every sample: verl stacks them
    assert all(g["n_criteria"] == len(RUBRIC) and g["ungradable"] == 0.0 for g in got)


def test_batch_call_grades_concurrently_with_axes_and_equal_scores(
    judge_server: JudgeServer, judge_kwargs: dict
) -> None:
    rows = [ruscarl_row() for _ in RESPONSES]
    axes = ["accuracy", "completeness", "communication"]
    got = batch_call(rows, RESPONSES, axes=axes, **judge_kwargs)
    assert [g["score"] for g in got] == pytest.approx(own_scores(judge_server.url, RESPONSES))
    assert all(list(g) == rv.extra_keys(axes) for g in got)
    assert all(0.0 <= g["axis/accuracy"] <= 1.0 and g["has_axis/accuracy"] == 1.0 for g in got)
    unconfigured = batch_call(rows, RESPONSES, **judge_kwargs)
    assert all(set(g) == EXTRA_KEYS for g in unconfigured)  # a fixed key set: no axis unless named


def test_batch_normalization_zscores_within_a_prompt_group(judge_kwargs: dict) -> None:
    other = ruscarl_row(prompt=[{"role": "user", "content": "What is 3 + 3?"}])
    rows = [ruscarl_row()] * 3 + [other] * 3
    responses = RESPONSES[:3] + RESPONSES[3:6]
    raw = batch_call(rows, responses, **judge_kwargs)
    shaped = batch_call(rows, responses, normalize="zscore", **judge_kwargs)
    for group in (slice(0, 3), slice(3, 6)):
        values = [g["score"] for g in shaped[group]]
        assert sum(values) == pytest.approx(0.0, abs=1e-9)
        # the order within a group is the raw order
        order_raw = sorted(range(3), key=lambda i: raw[group][i]["rubric_score"])
        order_shaped = sorted(range(3), key=lambda i: values[i])
        assert [raw[group][i]["rubric_score"] for i in order_raw] == [
            raw[group][i]["rubric_score"] for i in order_shaped
        ]


def test_a_missing_axis_gets_the_fill_value_and_a_presence_flag(
    judge_kwargs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    got = naive_call(ruscarl_row(), RESPONSES[0], axes=["accuracy", "safety"], **judge_kwargs)
    assert list(got) == rv.extra_keys(["accuracy", "safety"])
    assert 0.0 <= got["axis/accuracy"] <= 1.0 and got["has_axis/accuracy"] == 1.0
    assert got["axis/safety"] == 0.0 and got["has_axis/safety"] == 0.0
    assert all(math.isfinite(v) for v in got.values())  # gdpo reads these as float arrays
    monkeypatch.setenv("RUBRICATE_REWARD_AXIS_FILL", "0.5")
    filled = naive_call(ruscarl_row(), RESPONSES[0], axes=["safety"], **judge_kwargs)
    assert filled["axis/safety"] == 0.5 and filled["has_axis/safety"] == 0.0
    with pytest.raises(ConfigError, match="axis_fill"):
        naive_call(ruscarl_row(), RESPONSES[0], axis_fill="nan", **judge_kwargs)


def test_rubric_in_ground_truth_and_extra_info_rubrics(
    judge_server: JudgeServer, judge_kwargs: dict
) -> None:
    import json

    expected = own_scores(judge_server.url, RESPONSES[:1])[0]
    in_truth = rv.compute_score(
        "src", RESPONSES[0], json.dumps(RUBRIC), {"prompt": ruscarl_row()["prompt"]}, **judge_kwargs
    )
    in_extra = rv.compute_score(
        "src",
        RESPONSES[0],
        "",
        {"prompt": ruscarl_row()["prompt"], "rubrics": RUBRIC},
        **judge_kwargs,
    )
    assert in_truth["score"] == pytest.approx(expected) and in_extra["score"] == pytest.approx(
        expected
    )


def test_bad_rows_name_the_field(judge_kwargs: dict) -> None:
    row = ruscarl_row()
    no_prompt = {"reward_model": row["extra_info"]["reward_model"]}
    with pytest.raises(InputError, match=r"extra_info\.prompt"):
        rv.compute_score("src", "x", "", no_prompt, **judge_kwargs)
    with pytest.raises(InputError, match=r"extra_infos\[1\].reward_model.rubrics"):
        rv.compute_score_batch(
            ["a", "b"], ["x", "y"], ["", ""], [row["extra_info"], {"prompt": "hi"}], **judge_kwargs
        )
    with pytest.raises(ConfigError, match="unknown reward setting"):
        rv.compute_score("src", "x", "", row["extra_info"], judge_urll="typo", **judge_kwargs)
    with pytest.raises(ConfigError, match=r"one sample per call.*GRPO and GDPO already normalise"):
        rv.compute_score("src", "x", "", row["extra_info"], normalize="rank", **judge_kwargs)


def test_ungradable_sample_gets_the_fallback_and_is_reported() -> None:
    with JudgeServer(fault_rate=1.0, faults=("500",)) as server:
        kwargs = {
            "judge_url": server.url,
            "judge_model": "stub",
            "no_cache": True,
            "max_retries": 0,
        }
        got = naive_call(ruscarl_row(), RESPONSES[0], fallback=-1.0, **kwargs)
    assert got["score"] == -1.0 and got["ungradable"] == 1.0 and got["n_errors"] == len(RUBRIC)


def test_executor_threads_share_one_engine_and_dedupe(judge_server: JudgeServer, tmp_path) -> None:
    """verl's reward loop runs sync compute_score in executor threads: they share one engine,
    so each distinct judgment is made once (in flight together, or from the shared cache)."""
    row = ruscarl_row()
    texts = RESPONSES[:3] * 8
    kwargs = {
        "judge_url": judge_server.url,
        "judge_model": "stub",
        "cache": str(tmp_path / "c.sqlite"),
    }
    with ThreadPoolExecutor(max_workers=12) as pool:
        got = list(pool.map(lambda t: naive_call(row, t, **kwargs), texts))
    assert judge_server.requests == 3 * len(RUBRIC)
    expected = own_scores(judge_server.url, RESPONSES[:3])
    assert [g["score"] for g in got] == pytest.approx(expected * 8)


async def test_sync_form_works_inside_a_running_loop_and_async_form_matches(
    judge_kwargs: dict,
) -> None:
    row = ruscarl_row()
    sync_result = naive_call(row, RESPONSES[1], **judge_kwargs)  # called with a loop running
    async_result = await rv.compute_score_async(
        data_source="hb",
        solution_str=RESPONSES[1],
        ground_truth="",
        extra_info=row["extra_info"],
        **judge_kwargs,
    )
    batch = await rv.compute_score_batch_async(
        ["hb"], [RESPONSES[1]], [""], [row["extra_info"]], **judge_kwargs
    )
    assert sync_result == async_result
    assert batch[0]["score"] == sync_result["score"]
    results = await asyncio.gather(
        *(rv.compute_score_async("hb", t, "", row["extra_info"], **judge_kwargs) for t in RESPONSES)
    )
    assert len(results) == len(RESPONSES)


def test_settings_come_from_the_environment(
    judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUBRICATE_JUDGE_URL", judge_server.url)
    monkeypatch.setenv("RUBRICATE_JUDGE_MODEL", "stub")
    monkeypatch.setenv("RUBRICATE_REWARD_CLIP", "true")
    got = naive_call(ruscarl_row(), RESPONSES[2], no_cache=True)
    assert 0.0 <= got["score"] <= 1.0


def test_reward_router_address_is_the_judge_unless_a_judge_url_is_given(
    judge_server: JudgeServer,
) -> None:
    """verl passes ``reward_router_address`` (host:port) when it hosts the judge model."""
    address = judge_server.url.removeprefix("http://").removesuffix("/v1")
    got = naive_call(
        ruscarl_row(),
        RESPONSES[1],
        reward_router_address=address,
        reward_model_tokenizer=object(),
        judge_model="stub",
        no_cache=True,
    )
    assert got["score"] == pytest.approx(own_scores(judge_server.url, RESPONSES[1:2])[0])
    assert judge_server.requests > 0
    settings, _ = rv.split_kwargs(
        {"reward_router_address": "10.0.0.1:9000", "judge_url": "http://judge:8000/v1"}
    )
    assert settings["judge_url"] == "http://judge:8000/v1"
    assert rv.split_kwargs({"reward_router_address": "10.0.0.1:9000"})[0]["judge_url"] == (
        "http://10.0.0.1:9000/v1"
    )


def test_total_concurrency_is_split_across_reward_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, options = rv.split_kwargs({"total_concurrency": 64, "num_workers": 8})
    assert settings["concurrency"] == 8 and options.num_workers == 8
    monkeypatch.setenv("RUBRICATE_TOTAL_CONCURRENCY", "20")
    settings, _ = rv.split_kwargs({})  # verl's default of 8 reward workers
    assert settings["concurrency"] == 2
    # Two spellings of one limit: the later layer wins, as for any one setting ...
    settings, options = rv.split_kwargs({"concurrency": 4})
    assert settings["concurrency"] == 4 and options.total_concurrency == 20
    # ... and from one layer they clash, each named with its source.
    with pytest.raises(ConfigError, match=r"\(.*argument concurrency\).*argument total_conc"):
        rv.split_kwargs({"concurrency": 4, "total_concurrency": 16})
    monkeypatch.setenv("RUBRICATE_CONCURRENCY", "4")
    with pytest.raises(ConfigError, match=r"env RUBRICATE_CONCURRENCY.*not both"):
        rv.split_kwargs({})
    monkeypatch.delenv("RUBRICATE_CONCURRENCY")
    with pytest.raises(ConfigError, match=r"\(argument total_concurrency\) = 4 is below num_work"):
        rv.split_kwargs({"total_concurrency": 4, "num_workers": 8})
    with pytest.raises(ConfigError, match=r"'reward\.num_workers' \(argument num_workers\)"):
        rv.split_kwargs({"total_concurrency": 16, "num_workers": 2.5})


def test_verl_options_come_from_the_config_file_environment_and_keywords(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "rubricate.toml"
    config.write_text("[reward]\naxis_fill = 0.25\nnum_workers = 4\ntotal_concurrency = 16\n")
    monkeypatch.setenv("RUBRICATE_CONFIG", str(config))
    settings, options = rv.split_kwargs({})
    assert options == rv.VerlOptions(axis_fill=0.25, total_concurrency=16, num_workers=4)
    assert settings["concurrency"] == 4  # 16 judge calls across 4 workers
    monkeypatch.setenv("RUBRICATE_REWARD_NUM_WORKERS", "2")
    monkeypatch.setenv("RUBRICATE_REWARD_AXIS_FILL", "0.5")
    settings, options = rv.split_kwargs({"total_concurrency": 10})
    assert options == rv.VerlOptions(axis_fill=0.5, total_concurrency=10, num_workers=2)
    assert settings["concurrency"] == 5
    _, options = rv.split_kwargs({"axis_fill": 1.0, "num_workers": 1})
    assert options.axis_fill == 1.0 and options.num_workers == 1
    monkeypatch.delenv("RUBRICATE_REWARD_AXIS_FILL")
    config.write_text("[reward]\naxis_fill = nan\n")
    with pytest.raises(ConfigError, match=rf"'reward\.axis_fill' \(file {config}:2\)"):
        rv.split_kwargs({})
