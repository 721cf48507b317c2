"""Chat templates split back into messages, and end markers stripped, in linear time."""

from __future__ import annotations

import pytest

from rubricate.server import messages_from_template, response_after_prompt, strip_end_markers


def turns(text: str) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in messages_from_template(text)]


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        pytest.param(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
            "<|im_start|>assistant\n",
            [("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello"), ("user", "2+2?")],
            id="chatml",
        ),
        pytest.param(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n",
            [("system", "Be brief."), ("user", "2+2?")],
            id="llama3",
        ),
        pytest.param(
            "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n"
            "<start_of_turn>user\n2+2?<end_of_turn>\n<start_of_turn>model\n",
            [("user", "Hi"), ("assistant", "Hello"), ("user", "2+2?")],
            id="gemma",
        ),
        pytest.param(
            "<s>[INST] Hi [/INST] Hello</s>[INST] 2+2? [/INST]",
            [("user", "Hi"), ("assistant", "Hello"), ("user", "2+2?")],
            id="mistral",
        ),
        pytest.param(
            "<s>[SYSTEM_PROMPT]Be brief.[/SYSTEM_PROMPT][INST]2+2?[/INST]",
            [("system", "Be brief."), ("user", "2+2?")],
            id="mistral-v7-system",
        ),
        pytest.param(
            "<｜begin▁of▁sentence｜>Be brief.<｜User｜>Hi<｜Assistant｜>Hello<｜end▁of▁sentence｜>"
            "<｜User｜>2+2?<｜Assistant｜>",
            [("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello"), ("user", "2+2?")],
            id="deepseek",
        ),
        pytest.param("Just a question?", [("user", "Just a question?")], id="plain"),
        pytest.param(
            "<|im_start|>user\nnever closed",
            [("user", "<|im_start|>user\nnever closed")],
            id="open",
        ),
        pytest.param(
            "<|im_start|>not a role!\nx<|im_end|><|im_start|>user\nHi<|im_end|>",
            [("user", "Hi")],
            id="bad-role-skipped",
        ),
    ],
)
def test_templates_split_into_messages(prompt: str, expected: list[tuple[str, str]]) -> None:
    assert turns(prompt) == expected


class CountingText(str):
    """A prompt that counts the characters its searches and slices go over.

    Linear time is checked as work, not as wall-clock time: every ``find`` is charged the
    span it scanned and every slice the characters it copied, so a quadratic splitter (one
    that rescans or re-copies the rest of the text per marker) exceeds any constant
    multiple of the text's length at these sizes, however fast the machine.
    """

    scanned = 0

    def find(self, sub: str, start: int | None = None, end: int | None = None) -> int:  # type: ignore[override]
        begin = start or 0
        found = str.find(self, sub, begin, len(self) if end is None else end)
        CountingText.scanned += (found + len(sub) if found >= 0 else (end or len(self))) - begin
        return found

    def __getitem__(self, key: object) -> str:  # type: ignore[override]
        piece = str.__getitem__(self, key)  # type: ignore[index]
        CountingText.scanned += len(piece)
        return piece

    def endswith(self, suffix: object, start: int | None = None, end: int | None = None) -> bool:  # type: ignore[override]
        CountingText.scanned += (
            max(len(s) for s in suffix) if isinstance(suffix, tuple) else len(str(suffix))
        )
        return str.endswith(self, suffix, start, end)  # type: ignore[arg-type]


def _work(function: object, text: str) -> int:
    CountingText.scanned = 0
    function(CountingText(text))  # type: ignore[operator]
    return CountingText.scanned


@pytest.mark.parametrize(
    "hostile",
    [
        "<|im_start|>user\n" * 60_000,
        "<|start_header_id|>user<|end_header_id|>\n\n" * 30_000,
        "<start_of_turn>user\n" * 60_000,
        "[INST]" * 150_000,
        "<｜User｜>" * 150_000,
        "<|im_start|>" + "a" * 1_000_000,
    ],
    ids=["chatml", "llama3", "gemma", "mistral", "deepseek", "long-role"],
)
def test_splitting_is_linear_on_marker_floods(hostile: str) -> None:
    # A quadratic splitter rescans the rest of the text per marker: ~n^2/2 characters here.
    assert _work(messages_from_template, hostile) <= 16 * len(hostile)


def test_the_work_count_catches_a_quadratic_splitter() -> None:
    """The measure above must be able to fail: the old lazy-regex idea, one rescan per marker."""

    def quadratic(text: str) -> None:
        position = 0
        while (at := text.find("<|im_start|>", position)) >= 0:
            text[at:]  # copies the rest of the text once per marker
            position = at + 1

    flood = "<|im_start|>user\n" * 2_000
    assert _work(quadratic, flood) > 100 * len(flood)


def test_end_marker_stripping_is_linear_and_complete() -> None:
    flood = "Four." + " </s>\n<|im_end|>" * 100_000  # 1.5 MiB, as in issue 9
    assert _work(strip_end_markers, flood) <= 16 * len(flood)  # quadratic: ~n^2/2
    assert strip_end_markers(flood) == "Four."
    assert response_after_prompt("Q: 2+2? " + flood, "Q: 2+2?") == "Four."


def test_markers_inside_the_text_stay() -> None:
    assert strip_end_markers("a </s> b</s><eos>  ") == "a </s> b"
