"""Readers for external formats; each yields ``Sample`` or the ``InputError`` of a bad record."""

from rubricate.formats._read import Format, detect_format, only_samples, read_samples
from rubricate.formats._records import (
    convert_record,
    criteria_from_records,
    get_path,
    iter_jsonl,
    messages_from,
    read_jsonl_as,
    rubric_from,
)
from rubricate.formats.generic import (
    DEFAULT_FIELDS,
    read_generic,
    read_responses,
    sample_from_record,
)
from rubricate.formats.healthbench import ResponseSource, read_healthbench, sample_from_healthbench
from rubricate.formats.verl import read_verl_parquet, rubric_items_from_verl, sample_from_verl_row

__all__ = [
    "DEFAULT_FIELDS",
    "Format",
    "ResponseSource",
    "convert_record",
    "criteria_from_records",
    "detect_format",
    "get_path",
    "iter_jsonl",
    "messages_from",
    "only_samples",
    "read_generic",
    "read_healthbench",
    "read_jsonl_as",
    "read_responses",
    "read_samples",
    "read_verl_parquet",
    "rubric_from",
    "rubric_items_from_verl",
    "sample_from_healthbench",
    "sample_from_record",
    "sample_from_verl_row",
]
