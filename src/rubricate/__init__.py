"""rubricate: rubric-based evaluation and rewards for LLM outputs."""

__version__ = "0.1.0"
