"""The settings tree: file < environment < flags, each value's source, errors that name it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rubricate.errors import ConfigError
from rubricate.rewards import reward_settings
from rubricate.rewards._settings import load_reward_settings
from rubricate.settings import CONFIG_ENV, Settings, setting_fields


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("RUBRICATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray rubricate.toml


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_file_then_environment_then_flags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = write(
        tmp_path / "settings.toml",
        '[judge]\nconcurrency = 2\nmode = "grouped"\ntimeout = 9.0\n\n[reward]\nclip = true\n',
    )
    monkeypatch.setenv("RUBRICATE_CONCURRENCY", "3")
    monkeypatch.setenv("RUBRICATE_TIMEOUT", "7.5")
    settings = Settings.load({"judge": {"concurrency": 4, "judge_model": None}}, config_file=config)
    assert settings.judge.concurrency == 4
    assert settings.judge.timeout == 7.5
    assert settings.judge.mode == "grouped" and settings.reward.clip is True
    assert settings.judge.group_size == 4 and settings.judge.judge_model is None
    assert settings.source_of("judge.concurrency") == "flag --concurrency"
    assert settings.source_of("judge.timeout") == "env RUBRICATE_TIMEOUT"
    assert settings.source_of("judge.mode") == f"file {config}:3"
    assert settings.source_of("reward.clip") == f"file {config}:7"
    assert settings.source_of("judge.group_size") == "default"
    assert settings.source_of("judge.judge_model") == "default"  # None means not given
    assert settings.config_file == config


def test_config_file_from_the_environment_or_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert Settings.load().config_file is None
    local = write(tmp_path / "rubricate.toml", "[judge]\nconcurrency = 5\n")
    assert Settings.load().judge.concurrency == 5
    chosen = write(tmp_path / "other.toml", "[judge]\nconcurrency = 6\n")
    monkeypatch.setenv(CONFIG_ENV, str(chosen))
    assert Settings.load().judge.concurrency == 6
    assert Settings.load(config_file=local).judge.concurrency == 5  # --config wins
    # Settings() reads the same layers (without recording their sources).
    monkeypatch.setenv("RUBRICATE_MODE", "grouped")
    assert Settings().model_dump() == Settings.load().model_dump()


def test_errors_name_the_setting_and_its_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = write(tmp_path / "bad.toml", '[judge]\nmode = "grouped"\nconcurrency = 0\n')
    with pytest.raises(ConfigError) as from_file:
        Settings.load(config_file=config)
    assert f"setting 'judge.concurrency' (file {config}:3)" in str(from_file.value)
    monkeypatch.setenv("RUBRICATE_GROUP_SIZE", "many")
    with pytest.raises(ConfigError) as from_env:
        Settings.load()
    assert "setting 'judge.group_size' (env RUBRICATE_GROUP_SIZE)" in str(from_env.value)
    assert "'many'" in str(from_env.value)
    monkeypatch.delenv("RUBRICATE_GROUP_SIZE")
    with pytest.raises(ConfigError, match=r"'reward\.normalize' \(flag --normalize\)"):
        Settings.load({"reward": {"normalize": "minmax"}})
    with pytest.raises(ConfigError, match=r"'reward\.normalize' \(argument normalize\)"):
        Settings.load({"reward": {"normalize": "minmax"}}, source="argument")


def test_unknown_keys_secrets_and_broken_files_are_refused(tmp_path: Path) -> None:
    typo = write(tmp_path / "typo.toml", "[judge]\n\nconcurency = 3\n")
    with pytest.raises(ConfigError, match=rf"'judge\.concurency' \(file {typo}:3\): unknown"):
        Settings.load(config_file=typo)
    group = write(tmp_path / "group.toml", "[juge]\nconcurrency = 3\n")
    with pytest.raises(ConfigError, match=r"'juge' \(file .*group\.toml:1\): unknown"):
        Settings.load(config_file=group)
    secret = write(tmp_path / "secret.toml", '[serve]\napi_key = "hunter2"\n')
    with pytest.raises(ConfigError, match="RUBRICATE_SERVER_API_KEY") as refused:
        Settings.load(config_file=secret)
    assert "hunter2" not in str(refused.value) and f"{secret}:2" in str(refused.value)
    broken = write(tmp_path / "broken.toml", '[judge]\nmode = "grouped\n')
    with pytest.raises(ConfigError, match=f"config file {broken}"):
        Settings.load(config_file=broken)
    with pytest.raises(ConfigError, match="not found"):
        Settings.load(config_file=tmp_path / "absent.toml")


def test_a_bad_secret_is_named_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBRICATE_SERVER_API_KEY", "s3cret")
    settings = Settings.load()
    assert settings.serve.api_key is not None
    assert settings.serve.api_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings) and "s3cret" not in settings.model_dump_json()


@pytest.mark.parametrize(
    ("variable", "value", "path", "expected"),
    [
        (
            "RUBRICATE_JUDGE_URL",
            "http://a/v1, http://b/v1",
            "judge.judge_urls",
            ["http://a/v1", "http://b/v1"],
        ),
        ("RUBRICATE_JUDGE", "local", "judge.judge", "local"),
        ("RUBRICATE_JUDGE_MODEL", "m", "judge.judge_model", "m"),
        ("RUBRICATE_LOCAL_MODEL", "smollm2-135m", "judge.local_model", "smollm2-135m"),
        ("RUBRICATE_THREADS", "2", "judge.threads", 2),
        ("RUBRICATE_CONTEXT", "4096", "judge.context", 4096),
        ("RUBRICATE_ON_OVERFLOW", "truncate", "judge.on_overflow", "truncate"),
        ("RUBRICATE_RPM", "60", "judge.rpm", 60.0),
        ("RUBRICATE_TPM", "6000", "judge.tpm", 6000.0),
        ("RUBRICATE_MAX_RETRIES", "0", "judge.max_retries", 0),
        ("RUBRICATE_HEDGE_AFTER", "0.5", "judge.hedge_after", 0.5),
        ("RUBRICATE_TEMPERATURE", "0.2", "judge.temperature", 0.2),
        ("RUBRICATE_METHOD", "normalized", "judge.method", "normalized"),
        ("RUBRICATE_EXPLAIN", "yes", "judge.explain", True),
        ("RUBRICATE_PROBABILITIES", "1", "judge.probabilities", True),
        ("RUBRICATE_SOFT", "true", "judge.soft", True),
        ("RUBRICATE_CACHE", "/tmp/c.sqlite", "judge.cache", Path("/tmp/c.sqlite")),
        ("RUBRICATE_REWARD_CLIP", "on", "reward.clip", True),
        ("RUBRICATE_REWARD_NORMALIZE", "rank", "reward.normalize", "rank"),
        ("RUBRICATE_REWARD_FALLBACK", "-1", "reward.fallback", -1.0),
        ("RUBRICATE_REWARD_GATES", "false", "reward.gates", False),
        ("RUBRICATE_REWARD_GATE_FLOOR", "none", "reward.gate_floor", None),
        ("RUBRICATE_REWARD_GATE_FLOOR", "0.25", "reward.gate_floor", 0.25),
        ("RUBRICATE_REWARD_AXES", "accuracy, safety", "reward.axes", ("accuracy", "safety")),
        ("RUBRICATE_REWARD_AXIS_FILL", "0.5", "reward.axis_fill", 0.5),
        ("RUBRICATE_REWARD_NUM_WORKERS", "4", "reward.num_workers", 4),
        ("RUBRICATE_TOTAL_CONCURRENCY", "64", "reward.total_concurrency", 64),
        ("RUBRICATE_SERVER_MAX_QUEUED", "12288", "serve.max_queued", 12288),
        ("RUBRICATE_SERVER_DOCS", "true", "serve.docs", True),
    ],
)
def test_every_documented_variable_still_works(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, path: str, expected: object
) -> None:
    monkeypatch.setenv(variable, value)
    settings = Settings.load()
    group, name = path.split(".")
    assert getattr(getattr(settings, group), name) == expected
    assert settings.source_of(path) == f"env {variable}"


def test_every_field_is_described_once_with_its_own_names() -> None:
    leaves = setting_fields()
    assert all(leaf.description for leaf in leaves)
    variables = [leaf.env for leaf in leaves]
    assert len(variables) == len(set(variables))
    assert all(v.startswith("RUBRICATE_") for v in variables)
    flags = [leaf.flag for leaf in leaves]
    shared = sorted({flag for flag in flags if flags.count(flag) > 1})
    # The generation call's budget and re-asks keep the flags `generate` always had.
    assert shared == ["--max-tokens", "--reasks"]


def test_reward_arguments_layer_over_file_and_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write(
        tmp_path / "rubricate.toml", '[judge]\njudge_model = "from-file"\n[reward]\nclip = true\n'
    )
    monkeypatch.setenv("RUBRICATE_JUDGE_URL", "http://env/v1")
    judge, shaping = reward_settings({"model": "from-argument", "soft": "yes"})
    assert judge.judge_model == "from-argument" and judge.judge_urls == ["http://env/v1"]
    assert shaping.clip and shaping.soft and judge.probabilities  # soft asks for P(met)
    with pytest.raises(ConfigError, match=r"'judge\.concurrency' \(argument concurrency\)"):
        reward_settings({"concurrency": "lots"})


# The options the trainer integrations and the server read: every layer, with its source.
TRAINER_OPTIONS = [
    # (group, field, file value, env value, flag, flag value, expected from file/env/flag)
    ("reward", "axis_fill", "0.25", "0.5", "--axis-fill", 0.75, (0.25, 0.5, 0.75)),
    ("reward", "num_workers", "2", "4", "--num-workers", 16, (2, 4, 16)),
    ("reward", "total_concurrency", "8", "32", "--total-concurrency", 64, (8, 32, 64)),
    ("serve", "max_queued", "0", "12288", "--max-queued", 7, (0, 12288, 7)),
    ("serve", "docs", "false", "true", "--docs", False, (False, True, False)),
]


@pytest.mark.parametrize(
    ("group", "name", "in_file", "in_env", "flag", "flag_value", "expected"), TRAINER_OPTIONS
)
def test_trainer_and_server_options_come_from_every_layer(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    group: str,
    name: str,
    in_file: str,
    in_env: str,
    flag: str,
    flag_value: object,
    expected: tuple[object, object, object],
) -> None:
    leaf = next(f for f in setting_fields() if f.path == f"{group}.{name}")
    assert leaf.flag == flag and leaf.description
    config = write(tmp_path / "options.toml", f"[{group}]\n{name} = {in_file}\n")
    path = f"{group}.{name}"

    def value(settings: Settings) -> object:
        return getattr(getattr(settings, group), name)

    from_file = Settings.load(config_file=config)
    assert value(from_file) == expected[0] and from_file.source_of(path) == f"file {config}:2"
    monkeypatch.setenv(leaf.env, in_env)
    from_env = Settings.load(config_file=config)
    assert value(from_env) == expected[1] and from_env.source_of(path) == f"env {leaf.env}"
    from_flag = Settings.load({group: {name: flag_value}}, config_file=config)
    assert value(from_flag) == expected[2] and from_flag.source_of(path) == f"flag {flag}"


def test_the_verl_and_trl_options_are_keyword_arguments_over_file_and_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write(tmp_path / "rubricate.toml", "[reward]\naxis_fill = 0.25\nnum_workers = 4\n")
    monkeypatch.setenv("RUBRICATE_TOTAL_CONCURRENCY", "16")
    settings = load_reward_settings({"axis_fill": 0.5})
    assert settings.reward.axis_fill == 0.5
    assert settings.source_of("reward.axis_fill") == "argument axis_fill"
    assert settings.reward.num_workers == 4
    assert settings.source_of("reward.num_workers") == "file rubricate.toml:3"
    assert settings.reward.total_concurrency == 16
    assert settings.source_of("reward.total_concurrency") == "env RUBRICATE_TOTAL_CONCURRENCY"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"reward": {"axis_fill": "nan"}}, r"'reward\.axis_fill' \(flag --axis-fill\): .*finite"),
        ({"reward": {"num_workers": 0}}, r"'reward\.num_workers' \(flag --num-workers\)"),
        ({"reward": {"num_workers": 2.5}}, r"'reward\.num_workers' .*fractional part"),
        ({"reward": {"total_concurrency": 0}}, r"'reward\.total_concurrency' \(flag"),
        ({"serve": {"max_queued": -1}}, r"'serve\.max_queued' \(flag --max-queued\)"),
        ({"serve": {"docs": "maybe"}}, r"'serve\.docs' \(flag --docs\)"),
    ],
)
def test_bad_trainer_and_server_options_name_their_source(
    values: dict[str, dict[str, object]], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.load(values)
