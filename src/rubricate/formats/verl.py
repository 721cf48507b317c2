"""verl / RuscaRL parquet rows: ``prompt`` messages, ``reward_model.rubrics``, ``extra_info``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rubricate.errors import InputError, MissingDependency
from rubricate.formats._criteria import rubric_items_from
from rubricate.formats._records import (
    convert_record,
    get_path,
    messages_from,
    rubric_from,
    unique_samples,
)
from rubricate.formats._strict import strict_string
from rubricate.types import Sample

__all__ = ["read_verl_parquet", "rubric_items_from_verl", "sample_from_verl_row"]


def rubric_items_from_verl(row: Mapping[str, Any]) -> tuple[str, Any]:
    """(field path, rubric items) from a verl row: ``reward_model.rubrics``, else RuscaRL's
    ``extra_info.reward_model.rubrics``, else ``extra_info.rubrics`` / ``extra_info.rubric``."""
    reward_model = row.get("reward_model")
    if isinstance(reward_model, Mapping) and reward_model.get("rubrics") is not None:
        return "reward_model.rubrics", reward_model["rubrics"]
    extra = row.get("extra_info")
    if isinstance(extra, Mapping):
        nested = extra.get("reward_model")
        if isinstance(nested, Mapping) and nested.get("rubrics") is not None:
            return "extra_info.reward_model.rubrics", nested["rubrics"]  # RuscaRL
        for key in ("rubrics", "rubric"):
            if extra.get(key) is not None:
                return f"extra_info.{key}", extra[key]
    raise KeyError("reward_model.rubrics")


def sample_from_verl_row(
    row: Mapping[str, Any], *, fallback_id: str, id_field: str | None = None
) -> Sample:
    """One verl row as a Sample. The id is at ``id_field`` (a dotted path, required when
    given), else ``extra_info.id`` / ``prompt_id`` / ``uid`` / ``index``, else ``fallback_id``."""
    found_extra = row.get("extra_info")
    extra: Mapping[str, Any] = found_extra if isinstance(found_extra, Mapping) else {}
    if id_field is not None:
        sample_id = strict_string(get_path(row, id_field), id_field, allow_int=True)
    else:
        id_key = next(
            (k for k in ("id", "prompt_id", "uid", "index") if extra.get(k) is not None), None
        )
        sample_id = (
            strict_string(extra[id_key], f"extra_info.{id_key}", allow_int=True)
            if id_key is not None
            else fallback_id
        )
    if "prompt" not in row:
        raise KeyError("prompt")
    messages = messages_from(row["prompt"], "prompt")
    field, items = rubric_items_from_verl(row)
    rubric = rubric_from(rubric_items_from(items, field), field, sample_id)
    response = row.get("response")
    return Sample(
        sample_id,
        messages,
        rubric,
        response if isinstance(response, str) else None,
        {"data_source": row.get("data_source")},
    )


def read_verl_parquet(
    path: str | Path, *, batch_size: int = 1024, id_field: str | None = None
) -> Iterator[Sample | InputError]:
    """Samples of a verl-style parquet file, read in record batches (memory stays flat).

    A row without an id (see ``sample_from_verl_row``) is ``row-N``, N its 1-based position:
    the id ``--responses`` files must use unless ``id_field`` names a column.
    """
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise MissingDependency("pyarrow", "parquet") from error
    name = str(path)
    try:
        handle = pq.ParquetFile(path)
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read parquet: {error}", file=name) from error
    yield from unique_samples(_numbered_rows(handle, name, batch_size, id_field), name)


def _numbered_rows(
    handle: Any, name: str, batch_size: int, id_field: str | None
) -> Iterator[tuple[int, Sample | InputError]]:
    row_number = 0
    for batch in handle.iter_batches(batch_size=batch_size):
        for row in batch.to_pylist():
            row_number += 1
            yield (
                row_number,
                convert_record(
                    sample_from_verl_row,
                    row,
                    fallback_id=f"row-{row_number}",
                    id_field=id_field,
                    file=name,
                    line=row_number,
                ),
            )
