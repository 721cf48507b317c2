"""The public surface of rubricate.generate stays honest."""

from __future__ import annotations

import pytest

import rubricate.generate as generate
from rubricate.errors import ConfigError
from rubricate.generate import GenerateOptions, load_generation_template
from rubricate.generate._templates import TEMPLATE_NAMES


def test_every_export_exists_and_the_list_is_sorted() -> None:
    assert all(hasattr(generate, name) for name in generate.__all__)
    assert list(generate.__all__) == sorted(generate.__all__, key=lambda n: (not n.isupper(), n))


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_templates_are_versioned_and_render_only_with_all_fields(name: str) -> None:
    template = load_generation_template(name)
    assert template.version.startswith(f"{name}@") and len(template.version) == len(name) + 13
    with pytest.raises(KeyError):
        template.render()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_criteria": 0},
        {"min_criteria": 5, "max_criteria": 4},
        {"reasks": -1},
        {"concurrency": 0},
        {"importance_points": {"essential": 5, "important": 3, "optional": 1}},
        {"importance_points": {"essential": 5, "important": 3, "optional": 1, "pitfall": 2}},
    ],
)
def test_bad_options_are_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        GenerateOptions(**kwargs)  # type: ignore[arg-type]
