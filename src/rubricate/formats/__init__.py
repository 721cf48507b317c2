"""Readers for external formats; each yields ``Sample`` or the ``InputError`` of a bad record."""

from rubricate.formats._read import Format, detect_format, only_samples, read_samples
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
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "MAX_LINE_BYTES",
    "FieldError",
    "Format",
    "JsonRejected",
    "ResponseSource",
    "convert_record",
    "criteria_from_records",
    "decode_utf8",
    "detect_format",
    "get_path",
    "iter_jsonl",
    "loads_strict",
    "messages_from",
    "only_samples",
    "read_generic",
    "read_healthbench",
    "read_jsonl_as",
    "read_jsonl_numbered",
    "read_responses",
    "read_samples",
    "read_verl_parquet",
    "rubric_from",
    "rubric_items_from_verl",
    "sample_from_healthbench",
    "sample_from_record",
    "sample_from_verl_row",
    "strict_number",
    "strict_string",
    "unique_samples",
]
