"""Two real runs over the same data, graded once per test module by two loopback judges."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.runs import grade_run, lenient_judge, strict_judge


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """Run ``a`` (strict judge), run ``b`` (lenient judge, graded with --report) and b's output."""
    tmp = tmp_path_factory.mktemp("runs")
    first, _ = grade_run(tmp, "a", strict_judge)
    second, output = grade_run(tmp, "b", lenient_judge, "--report")
    return first, second, output
