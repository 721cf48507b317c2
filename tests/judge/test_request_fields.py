"""Every field of a built request, not only its rendered text (which the golden files pin)."""

from __future__ import annotations

from rubricate.judge import ANSWER_PREFIX, build_request, load_template, render_shared
from rubricate.rubric import Criterion, Rubric, Scale
from rubricate.types import JudgeRequest, Message, Sample

BINARY = Criterion(id="dose", text="States the adult dose.", points=5)
PITFALL = Criterion(id="aspirin", text="Recommends aspirin for a child.", points=-6)
TERNARY = Criterion(id="refer", text="Suggests a doctor.", scale=Scale(kind="ternary"))
SAMPLE = Sample(
    id="s",
    messages=(Message("user", "How much ibuprofen?"),),
    rubric=Rubric(id="r", criteria=(BINARY, PITFALL, TERNARY)),
    response="200-400 mg every 6 hours.",
)


def _expected(
    template_mode: str,
    explain: bool,
    criteria: tuple[Criterion, ...],
    *,
    probabilities: bool,
) -> tuple[JudgeRequest, JudgeRequest]:
    template = load_template(template_mode, explain)  # type: ignore[arg-type]
    shared = render_shared(SAMPLE)
    built = build_request(
        template, shared, criteria, max_tokens=77, want_probabilities=probabilities
    )
    binary = len(criteria) == 1 and criteria[0].scale.kind == "binary"
    user = built.messages[1].content
    expected = JudgeRequest(
        messages=(Message("system", template.system), Message("user", user)),
        criterion_ids=tuple(c.id for c in criteria),
        max_tokens=77,
        want_probabilities=probabilities and binary,
        choices=("met", "not_met") if binary else (),
        answer_prefix=ANSWER_PREFIX if binary and not explain else "",
        shared_prefix_chars=len(shared),
        temperature=None,
        seed=None,
    )
    return built, expected


def test_every_field_per_criterion_grouped_explained_and_levelled() -> None:
    cases = [
        ("per-criterion", False, (BINARY,), True),
        ("per-criterion", False, (PITFALL,), False),
        ("per-criterion", True, (BINARY,), True),
        ("per-criterion", False, (TERNARY,), True),
        ("grouped", False, (BINARY, PITFALL, TERNARY), True),
        ("grouped", True, (BINARY, PITFALL), False),
    ]
    for mode, explain, criteria, probabilities in cases:
        built, expected = _expected(mode, explain, criteria, probabilities=probabilities)
        assert built == expected, (mode, explain, [c.id for c in criteria])
        assert built.messages[1].content.startswith(render_shared(SAMPLE))


def test_requests_of_one_template_share_one_system_message() -> None:
    template = load_template("per-criterion")
    shared = render_shared(SAMPLE)
    first, second = (build_request(template, shared, [c], max_tokens=8) for c in (BINARY, PITFALL))
    assert first.messages[0] is second.messages[0]
    assert first.messages[0] == Message("system", template.system)
    other = build_request(load_template("grouped"), shared, [BINARY, PITFALL], max_tokens=8)
    assert other.messages[0].content == load_template("grouped").system
