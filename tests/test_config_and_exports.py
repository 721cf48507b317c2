import importlib

import pytest

import rubricate
from rubricate.errors import ConfigError
from rubricate.settings import Settings, build_judge, default_cache_path


def test_public_exports_resolve() -> None:
    for module_name in (
        "rubricate",
        "rubricate.rubric",
        "rubricate.judge",
        "rubricate.scoring",
        "rubricate.store",
        "rubricate.backends",
        "rubricate.formats",
        "rubricate.generate",
        "rubricate.rewards",
        "rubricate.models",
        "rubricate.settings",
        "rubricate.engine",
    ):
        module = importlib.import_module(module_name)
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module_name}.{name}"


def test_settings_from_env_with_overrides(monkeypatch) -> None:
    monkeypatch.setenv("RUBRICATE_JUDGE_URL", "http://a/v1, http://b/v1")
    monkeypatch.setenv("RUBRICATE_JUDGE_MODEL", "m")
    monkeypatch.setenv("RUBRICATE_CONCURRENCY", "7")
    monkeypatch.setenv("RUBRICATE_EXPLAIN", "yes")
    settings = Settings.load({"judge": {"concurrency": 3, "mode": None}}).judge
    assert settings.judge_urls == ["http://a/v1", "http://b/v1"] and settings.kind == "openai"
    assert settings.concurrency == 3 and settings.explain and settings.mode == "per-criterion"
    assert settings.grade_options().concurrency == 3


def test_settings_errors_name_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("RUBRICATE_CONCURRENCY", "many")
    with pytest.raises(ConfigError, match="RUBRICATE_CONCURRENCY"):
        Settings.load()


def test_default_cache_path(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("RUBRICATE_CACHE", str(tmp_path / "x.sqlite"))
    assert default_cache_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("RUBRICATE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_path() == tmp_path / "rubricate" / "store.sqlite"


def test_local_judge_is_the_default_without_urls(monkeypatch) -> None:
    monkeypatch.delenv("RUBRICATE_JUDGE_URL", raising=False)
    settings = Settings.load().judge
    assert settings.kind == "local" and settings.grade_options().concurrency == 1


def test_version() -> None:
    assert rubricate.__version__.count(".") == 2


def test_hedge_after_reaches_every_pool_member(monkeypatch) -> None:
    monkeypatch.setenv("RUBRICATE_HEDGE_AFTER", "0.75")
    judge = build_judge(
        Settings.load(
            {"judge": {"judge_urls": ["http://a/v1", "http://b/v1"], "judge_model": "m"}}
        ).judge
    )
    assert [m.judge.hedge_after for m in judge._members] == [0.75, 0.75]
    monkeypatch.setenv("RUBRICATE_HEDGE_AFTER", "0")
    with pytest.raises(ConfigError, match="RUBRICATE_HEDGE_AFTER"):
        Settings.load()
