"""Finding, assembling and verifying local model files.

Model packages come from untrusted publishers, so their bytes are used only after the
assembled file's sha256 matches the registry. Chunks are located without importing the
chunk packages (their folder is found with ``importlib.util.find_spec``); only a package
whose folder holds more than one data file is imported to ask its ``get_part_path()``.
A small sidecar records the verified hash with the file's size and mtime, so a 1 GB file
is hashed once, not on every start.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rubricate.errors import ModelError
from rubricate.models._registry import ModelSpec, default_model_name, get_spec, pip_command

__all__ = [
    "ModelStatus",
    "ensure_model",
    "file_sha256",
    "model_status",
    "models_dir",
    "resolve_model",
    "verify_model",
]

logger = logging.getLogger(__name__)

_BLOCK = 8 * 1024 * 1024
_CODE_SUFFIXES = frozenset({".py", ".pyc", ".pyi", ".typed"})
_DOWNLOAD_ENV = "RUBRICATE_ALLOW_DOWNLOAD"


def models_dir() -> Path:
    """``RUBRICATE_MODELS_DIR``, else ``$XDG_CACHE_HOME/rubricate/models`` (``~/.cache/...``)."""
    env = os.environ.get("RUBRICATE_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rubricate" / "models"


# --- hashing with a sidecar -------------------------------------------------------


def _sidecar(path: Path) -> Path:
    """Beside files in the cache; in the cache's ``digests/`` for files elsewhere (site-packages, user paths)."""
    path = path.resolve()
    cache = models_dir().resolve()
    if path.parent == cache:
        return path.with_name(path.name + ".sha256.json")
    key = hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:24]
    return cache / "digests" / f"{key}.json"


def _identity(path: Path) -> dict[str, object]:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _recorded_sha256(path: Path) -> str | None:
    """The digest recorded for ``path`` if the file is unchanged since (same size and mtime)."""
    try:
        record = json.loads(_sidecar(path).read_text("utf-8"))
        identity = _identity(path)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or any(record.get(k) != v for k, v in identity.items()):
        return None
    digest = record.get("sha256")
    return digest if isinstance(digest, str) else None


def _record_sha256(path: Path, digest: str) -> None:
    sidecar = _sidecar(path)
    try:
        sidecar.parent.mkdir(parents=True, exist_ok=True)
        sidecar.write_text(json.dumps({**_identity(path), "sha256": digest}) + "\n", "utf-8")
    except OSError as error:  # a read-only cache only costs a re-hash next time
        logger.debug("could not write %s: %s", sidecar, error)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike[str], *, rehash: bool = False) -> str:
    """sha256 of a file, read from its sidecar when the file is unchanged (unless ``rehash``)."""
    path = Path(path)
    if not rehash:
        recorded = _recorded_sha256(path)
        if recorded is not None:
            return recorded
    digest = _hash_file(path)
    _record_sha256(path, digest)
    return digest


def _matches(path: Path, spec: ModelSpec, *, rehash: bool) -> bool:
    if path.stat().st_size != spec.size:
        return False
    return file_sha256(path, rehash=rehash) == spec.sha256


# --- locating package contents ----------------------------------------------------


def _package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without running its code."""
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


def _data_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix not in _CODE_SUFFIXES and "__pycache__" not in p.parts
    )


def _part_path(module: str, folder: Path) -> Path:
    files = _data_files(folder)
    if len(files) == 1:
        return files[0]
    # Several data files: only the package knows which one is the chunk.
    try:
        part = Path(importlib.import_module(module).get_part_path())
    except Exception as error:  # untrusted package code: any failure means "unusable"
        raise ModelError(f"package '{module}' did not give its chunk path: {error}") from error
    if not part.is_file():
        raise ModelError(f"package '{module}' points to a missing chunk file: {part}")
    return part


def _missing_error(spec: ModelSpec, missing: Iterable[str]) -> ModelError:
    names = list(missing)
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return ModelError(
        f"local model '{spec.name}' is not installed (missing {shown}). Install it with:\n"
        f"  rubricate models install {spec.name}\n"
        f"or\n  {pip_command(spec)}"
    )


def _installed_parts(spec: ModelSpec) -> list[Path]:
    """The chunk files in concatenation order; raises ``ModelError`` naming what is missing."""
    folders = [(m, _package_dir(m)) for m in spec.modules]
    missing = [
        p.split("==")[0] for p, (_, f) in zip(spec.packages, folders, strict=True) if f is None
    ]
    if missing:
        raise _missing_error(spec, missing)
    return [_part_path(module, folder) for module, folder in folders if folder is not None]


def _installed_file(spec: ModelSpec) -> Path | None:
    folder = _package_dir(spec.modules[0])
    if folder is None:
        return None
    path = folder / spec.filename
    return path if path.is_file() else None


# --- writing verified files -------------------------------------------------------


class _HashingWriter:
    """Writes blocks to a file and hashes them on the way."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def write(self, block: bytes) -> None:
        self.digest.update(block)
        self.handle.write(block)


@contextlib.contextmanager
def _verified_output(spec: ModelSpec, target: Path) -> Iterator[_HashingWriter]:
    """A writer into a temp file beside ``target``, renamed onto it only if the sha256 matches."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            writer = _HashingWriter(handle)
            yield writer
        got = writer.digest.hexdigest()
        if got != spec.sha256:
            raise ModelError(
                f"local model '{spec.name}' failed verification: sha256 {got}, expected "
                f"{spec.sha256}. Its packages may be corrupt or not the pinned versions; reinstall with:\n"
                f"  {pip_command(spec)} --force-reinstall"
            )
        os.chmod(temp, 0o644)  # mkstemp makes it private; it is a plain cache file
        os.replace(temp, target)
    except OSError as error:
        raise ModelError(f"could not write {target}: {error}") from error
    finally:
        temp.unlink(missing_ok=True)  # a no-op after the rename
    _record_sha256(target, spec.sha256)


def _assemble(spec: ModelSpec, parts: list[Path], target: Path) -> Path:
    total = sum(p.stat().st_size for p in parts)
    if total != spec.size:
        raise ModelError(
            f"the chunks of '{spec.name}' add up to {total} bytes, expected {spec.size}; "
            f"reinstall the pinned versions with:\n  {pip_command(spec)} --force-reinstall"
        )
    logger.info("assembling %s from %d chunks into %s", spec.name, len(parts), target)
    with _verified_output(spec, target) as writer:
        for part in parts:
            with part.open("rb") as source:
                while block := source.read(_BLOCK):
                    writer.write(block)
    return target


def _download_allowed(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    return os.environ.get(_DOWNLOAD_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _download(spec: ModelSpec, target: Path) -> Path:
    """Stream ``spec.url`` to ``target`` through the sha256 check (for machines with a network)."""
    import httpx

    if spec.url is None:
        raise ModelError(f"local model '{spec.name}' has no download URL")
    logger.info("downloading %s from %s", spec.name, spec.url)
    try:
        with (
            httpx.stream("GET", spec.url, follow_redirects=True, timeout=60.0) as response,
            _verified_output(spec, target) as writer,
        ):
            response.raise_for_status()
            for block in response.iter_bytes(_BLOCK):
                writer.write(block)
    except httpx.HTTPError as error:
        raise ModelError(
            f"could not download '{spec.name}' from {spec.url}: {error}. "
            f"Offline, install it from PyPI instead:\n  {pip_command(spec)}"
        ) from error
    return target


# --- public entry points ----------------------------------------------------------


def ensure_model(
    model: str | ModelSpec, *, verify: bool = False, allow_download: bool | None = None
) -> Path:
    """The verified GGUF of a known model, assembling it from installed packages if needed.

    Args:
        model: a registry name or a ``ModelSpec``.
        verify: re-hash even when the sidecar says the file is unchanged.
        allow_download: fetch ``spec.url`` when the packages are missing (default:
            ``RUBRICATE_ALLOW_DOWNLOAD``); never needed when the packages are installed.

    Raises:
        ModelError: packages missing (the message has the pip command) or bytes that do not verify.
    """
    spec = model if isinstance(model, ModelSpec) else get_spec(model)
    cached = models_dir() / spec.filename
    if spec.layout == "file":
        in_package = _installed_file(spec)
        if in_package is not None:
            if not _matches(in_package, spec, rehash=verify):
                raise ModelError(
                    f"{in_package} does not match the sha256 of '{spec.name}'; reinstall with:\n"
                    f"  {pip_command(spec)} --force-reinstall"
                )
            return in_package
    if cached.is_file():
        if _matches(cached, spec, rehash=verify):
            return cached
        logger.warning("%s does not verify; rebuilding it", cached)
        cached.unlink(missing_ok=True)
    try:
        if spec.layout == "chunks":
            return _assemble(spec, _installed_parts(spec), cached)
        raise _missing_error(spec, [p.split("==")[0] for p in spec.packages])
    except ModelError:
        if _download_allowed(allow_download) and spec.url:
            return _download(spec, cached)
        raise


def verify_model(model: str | ModelSpec) -> Path:
    """Re-hash the model's file (rebuilding a corrupt assembled copy); its path when it verifies."""
    return ensure_model(model, verify=True)


def resolve_model(spec: str | os.PathLike[str] | None = None) -> Path:
    """A GGUF path from a file path, a known model name, or ``None`` (``RUBRICATE_LOCAL_MODEL`` or the default)."""
    value = os.fspath(spec) if spec is not None else default_model_name()
    path = Path(value).expanduser()
    if path.is_file():
        return path
    if value.endswith(".gguf") or os.sep in value or (os.altsep and os.altsep in value):
        raise ModelError(f"local model file not found: {path}")
    return ensure_model(value)


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """What is on this machine for one model.

    Attributes:
        installed: every package of the model is installed.
        path: the usable GGUF if it exists (assembled or inside its package), else ``None``.
        verified: ``path`` matched the registry's sha256 and has not changed since.
    """

    spec: ModelSpec
    installed: bool
    path: Path | None
    verified: bool


def model_status(model: str | ModelSpec) -> ModelStatus:
    """Installed / assembled / verified, without hashing anything."""
    spec = model if isinstance(model, ModelSpec) else get_spec(model)
    installed = all(_package_dir(m) is not None for m in spec.modules)
    candidates = [models_dir() / spec.filename]
    if spec.layout == "file":
        candidates.insert(0, _installed_file(spec) or candidates[0])
    path = next((p for p in candidates if p.is_file()), None)
    verified = path is not None and _recorded_sha256(path) == spec.sha256
    return ModelStatus(spec, installed, path, verified)
