"""The model store: one folder per installed model, each with a manifest.json.

Installs are atomic: a model is built in a hidden staging folder inside the store (same file
system) and renamed into place only once complete, with its manifest written last. A crash,
a corrupt source or a full disk leaves at most a staging folder, which the next open removes.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.models.errors import ModelError
from assistant.models.importers.converted import ConvertedModel
from assistant.runtime.paths import models_dir

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
_STAGING_PREFIX = ".staging-"
_TRASH_PREFIX = ".trash-"


@dataclass(frozen=True)
class InstalledModel:
    """A model in the store, as its manifest describes it."""

    id: str
    path: Path
    kind: str
    format: str
    languages: tuple[str, ...]
    size_bytes: int
    source: str
    details: dict = field(default_factory=dict)
    revision: int = 1  # the catalog revision it was installed from

    @property
    def gguf_file(self) -> Path | None:
        """The GGUF file llama.cpp runs, for a chat model that keeps one."""
        path = self.path / "model.gguf"
        return path if path.is_file() else None

    @property
    def has_mlx_weights(self) -> bool:
        """True when mlx-lm / mlx-whisper can load the folder."""
        return (self.path / "config.json").is_file()

    def speaks(self, language: str) -> bool:
        return "multi" in self.languages or language in self.languages


class ModelStore:
    """Installed models under one root folder (PARLEY_MODELS_DIR or the platform data folder)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else models_dir()
        self._remove_leftovers()

    def installed(self) -> list[InstalledModel]:
        """Every model with a readable manifest, sorted by id."""
        if not self.root.is_dir():
            return []
        models = []
        for folder in sorted(self.root.iterdir()):
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            model = self._read_manifest(folder)
            if model:
                models.append(model)
        return models

    def get(self, model_id: str) -> InstalledModel | None:
        """The installed model with this id, or None."""
        folder = self.root / model_id
        return self._read_manifest(folder) if folder.is_dir() else None

    def install(
        self, model_id: str, build: Callable[[Path], ConvertedModel], source: str, revision: int = 1
    ) -> InstalledModel:
        """Build a model into a staging folder with `build(folder)`, then move it into place.

        `build` writes the model files and returns what it wrote; any exception it raises
        propagates after the staging folder is removed, so the store never holds half a model.
        An existing model with the same id is replaced only after the new one is complete.
        """
        _check_id(model_id)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{os.getpid()}-{model_id}-", dir=self.root))
        try:
            converted = build(staging)
            size = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
            manifest = {
                "id": model_id,
                "kind": converted.kind,
                "format": converted.format,
                "languages": list(converted.languages),
                "size_bytes": size,
                "source": source,
                "details": converted.details,
                "revision": revision,
                "installed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            with open(staging / MANIFEST, "w", encoding="utf-8") as out:
                json.dump(manifest, out, indent=2)
                out.flush()
                os.fsync(out.fileno())
            self._swap_into_place(staging, self.root / model_id)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise ModelError(
                    f"The disk holding the model store ({self.root}) is full while installing {model_id}; "
                    "free some space (or set PARLEY_MODELS_DIR to a larger disk) and run the command again. "
                    "Nothing was installed."
                ) from exc
            raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        installed = self.get(model_id)
        assert installed is not None
        log.info("installed %s (%s, %.1f MB) from %s", model_id, installed.format, installed.size_bytes / 1e6, source)
        return installed

    def remove(self, model_id: str) -> None:
        """Delete an installed model; ModelError when it isn't installed."""
        _check_id(model_id)
        folder = self.root / model_id
        if not (folder / MANIFEST).is_file():
            raise ModelError(f"{model_id} is not installed; `parley models list` shows what is")
        trash = self.root / f"{_TRASH_PREFIX}{os.getpid()}-{model_id}"
        os.replace(folder, trash)  # one rename: the model vanishes at once, never half-deleted
        shutil.rmtree(trash, ignore_errors=True)
        log.info("removed %s", model_id)

    def _swap_into_place(self, staging: Path, final: Path) -> None:
        if final.exists():
            trash = self.root / f"{_TRASH_PREFIX}{os.getpid()}-{final.name}"
            os.replace(final, trash)
            os.replace(staging, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staging, final)

    def _read_manifest(self, folder: Path) -> InstalledModel | None:
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            return InstalledModel(
                id=data["id"],
                path=folder,
                kind=data["kind"],
                format=data["format"],
                languages=tuple(data["languages"]),
                size_bytes=int(data["size_bytes"]),
                source=data.get("source", ""),
                details=data.get("details", {}),
                revision=int(data.get("revision", 1)),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: unreadable manifest (%s); reinstall this model", folder / MANIFEST, exc)
            return None

    def _remove_leftovers(self) -> None:
        """Remove staging and trash folders that an interrupted install or removal left behind.

        Their names carry the pid of the process that made them; a live process's are left alone,
        since the app and a `parley models` command may share the store.
        """
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            for prefix in (_STAGING_PREFIX, _TRASH_PREFIX):
                if folder.name.startswith(prefix) and not _alive(folder.name[len(prefix):].split("-")[0]):
                    log.info("removing leftover %s", folder)
                    shutil.rmtree(folder, ignore_errors=True)


def _check_id(model_id: str) -> None:
    if not model_id or model_id.startswith(".") or "/" in model_id or "\\" in model_id or model_id in ("..",):
        raise ModelError(f"{model_id!r} is not a valid model id: use letters, digits, '.', '-' and '_'")


def _alive(pid_text: str) -> bool:
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
