"""Local judge models: a registry of GGUF files shipped on PyPI, assembled and verified before use.

from rubricate.models import resolve_model
path = resolve_model("qwen2.5-coder-1.5b")   # or a GGUF path, or None for the default
"""

from rubricate.models._files import (
    ModelStatus,
    ensure_model,
    file_sha256,
    model_status,
    models_dir,
    resolve_model,
    verify_model,
)
from rubricate.models._registry import (
    DEFAULT_MODEL,
    MODELS,
    ModelSpec,
    default_model_name,
    get_spec,
    pip_command,
)

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "ModelSpec",
    "ModelStatus",
    "default_model_name",
    "ensure_model",
    "file_sha256",
    "get_spec",
    "model_status",
    "models_dir",
    "pip_command",
    "resolve_model",
    "verify_model",
]
