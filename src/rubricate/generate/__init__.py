"""Rubric generation: rubrics in the schema the grader reads, each with its provenance.

Strategies (see ``RubricGenerator``):

- ``from-prompt``: criteria from the prompt (and an optional reference answer);
- ``contrastive``: criteria explaining why a chosen response beats a rejected one, kept only
  when grading both with them reproduces the preference (regenerated up to K times);
- ``refine``: recursive decompose-and-filter of a rubric over graded responses, with
  correlation-aware weights;
- ``retrieve``: ``from-prompt`` conditioned on the rubrics of similar prompts (BM25, embeddings);
- ``nuggets``: atomic information points of reference answers or passages.

``GeneratingComparer`` compares pairs criterion-wise by rubrics written on the fly
(``from-prompt`` or ``retrieve``) for the pairs whose data carries none.

Example::

    from rubricate.generate import generate_rubrics, read_generation_items

    result = generate_rubrics(read_generation_items("prompts.jsonl"), judge, strategy="from-prompt")
    for line in result.rubrics:
        print(line.model_dump_json())
"""

from rubricate.generate._compare import (
    COMPARE_STRATEGIES,
    GeneratingComparer,
    check_compare_strategy,
    compare_generating_to_dir,
    compare_pairs_generating,
    with_vetoes,
)
from rubricate.generate._dedup import (
    Duplicate,
    Embedder,
    MiniLMEmbedder,
    dedup_criteria,
    load_embedder,
    normalise_text,
    text_similarity,
)
from rubricate.generate._io import item_from_record, read_generation_items
from rubricate.generate._refine import RefineOptions
from rubricate.generate._retrieve import BankEntry, RubricBank
from rubricate.generate._run import (
    STRATEGIES,
    GenerationResult,
    RubricGenerator,
    generate_rubrics,
    generate_rubrics_async,
    generate_to_file,
)
from rubricate.generate._templates import load_generation_template
from rubricate.generate._types import (
    IMPORTANCE_POINTS,
    Generated,
    GeneratedRubric,
    GenerateOptions,
    GenerationItem,
    GenerationStats,
    Outcome,
    Provenance,
    RubricItem,
    Strategy,
)
from rubricate.generate._validate import Rejection, Rules, parse_criteria_reply, validate_text
from rubricate.generate._weights import (
    correlation_weights,
    goodness_matrix,
    preference_differences,
    redundant_pairs,
    satisfaction_rates,
)

__all__ = [
    "COMPARE_STRATEGIES",
    "IMPORTANCE_POINTS",
    "STRATEGIES",
    "BankEntry",
    "Duplicate",
    "Embedder",
    "GenerateOptions",
    "Generated",
    "GeneratedRubric",
    "GeneratingComparer",
    "GenerationItem",
    "GenerationResult",
    "GenerationStats",
    "MiniLMEmbedder",
    "Outcome",
    "Provenance",
    "RefineOptions",
    "Rejection",
    "RubricBank",
    "RubricGenerator",
    "RubricItem",
    "Rules",
    "Strategy",
    "check_compare_strategy",
    "compare_generating_to_dir",
    "compare_pairs_generating",
    "correlation_weights",
    "dedup_criteria",
    "generate_rubrics",
    "generate_rubrics_async",
    "generate_to_file",
    "goodness_matrix",
    "item_from_record",
    "load_embedder",
    "load_generation_template",
    "normalise_text",
    "parse_criteria_reply",
    "preference_differences",
    "read_generation_items",
    "redundant_pairs",
    "satisfaction_rates",
    "text_similarity",
    "validate_text",
    "with_vetoes",
]
