"""Readers for external formats; each yields ``Sample`` (or ``JudgePair``) or the
``InputError`` of a bad record."""

from rubricate.formats._criteria import CRITERION_FIELDS, criterion_fields_from, rubric_items_from
from rubricate.formats._read import FORMATS, Format, detect_format, only_samples, read_samples
from rubricate.formats._records import (
    MAX_LINE_BYTES,
    convert_record,
    criteria_from_records,
    get_path,
    iter_jsonl,
    messages_from,
    read_jsonl_as,
    read_jsonl_numbered,
    rubric_from,
    unique_ids,
    unique_samples,
)
from rubricate.formats._strict import (
    MAX_DEPTH,
    MAX_INT_DIGITS,
    FieldError,
    JsonRejected,
    decode_utf8,
    loads_strict,
    strict_number,
    strict_string,
)
from rubricate.formats.drb2 import blocked_context, read_drb2, sample_from_drb2
from rubricate.formats.generic import (
    DEFAULT_FIELDS,
    read_generic,
    read_responses,
    sample_from_record,
)
from rubricate.formats.healthbench import ResponseSource, read_healthbench, sample_from_healthbench
from rubricate.formats.judgebench import JudgePair, PairLabel, pair_from_judgebench, read_judgebench
from rubricate.formats.prbench import read_prbench, sample_from_prbench
from rubricate.formats.researchqa import RESEARCHQA_SCALE, read_researchqa, sample_from_researchqa
from rubricate.formats.researchrubrics import read_researchrubrics, sample_from_researchrubrics
from rubricate.formats.verl import read_verl_parquet, rubric_items_from_verl, sample_from_verl_row
from rubricate.formats.writingbench import (
    WRITINGBENCH_BANDS,
    read_writingbench,
    sample_from_writingbench,
)

__all__ = [
    "CRITERION_FIELDS",
    "DEFAULT_FIELDS",
    "FORMATS",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "MAX_LINE_BYTES",
    "RESEARCHQA_SCALE",
    "WRITINGBENCH_BANDS",
    "FieldError",
    "Format",
    "JsonRejected",
    "JudgePair",
    "PairLabel",
    "ResponseSource",
    "blocked_context",
    "convert_record",
    "criteria_from_records",
    "criterion_fields_from",
    "decode_utf8",
    "detect_format",
    "get_path",
    "iter_jsonl",
    "loads_strict",
    "messages_from",
    "only_samples",
    "pair_from_judgebench",
    "read_drb2",
    "read_generic",
    "read_healthbench",
    "read_jsonl_as",
    "read_jsonl_numbered",
    "read_judgebench",
    "read_prbench",
    "read_researchqa",
    "read_researchrubrics",
    "read_responses",
    "read_samples",
    "read_verl_parquet",
    "read_writingbench",
    "rubric_from",
    "rubric_items_from",
    "rubric_items_from_verl",
    "sample_from_drb2",
    "sample_from_healthbench",
    "sample_from_prbench",
    "sample_from_record",
    "sample_from_researchqa",
    "sample_from_researchrubrics",
    "sample_from_verl_row",
    "sample_from_writingbench",
    "strict_number",
    "strict_string",
    "unique_ids",
    "unique_samples",
]
