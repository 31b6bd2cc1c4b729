"""Offline packs from the npm registry: a package tarball that carries model files (kokoro-js's voice styles).

The tarball is fetched over HTTPS from the registry (npm's own `NPM_CONFIG_REGISTRY` is honoured, for a mirror),
checked against the size and sha256 the catalog pins, and only the files the catalog names are unpacked into
Parley's cache folder. Nothing of it is run or installed: no Node.js is needed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from assistant.models.cache_folders import publish
from assistant.models.errors import ModelError

REGISTRY = "https://registry.npmjs.org"
TIMEOUT_S = 60


@dataclass(frozen=True)
class NpmTarball:
    """An npm package at one version, pinned, and the files of it a pack uses."""

    package: str  # "kokoro-js@1.2.1"
    size: int
    sha256: str
    files: tuple[str, ...]  # paths inside the tarball ("package/voices/zf_xiaoxiao.bin")

    @property
    def name_and_version(self) -> tuple[str, str]:
        name, _, version = self.package.rpartition("@")
        if not name or not version:
            raise ValueError(f"npm package {self.package!r} is not NAME@VERSION")
        return name, version

    def url(self) -> str:
        name, version = self.name_and_version
        registry = (os.environ.get("NPM_CONFIG_REGISTRY") or REGISTRY).rstrip("/")
        return f"{registry}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"


def unpacked_tarball(tarball: NpmTarball, cache: Path) -> Path:
    """A folder holding `tarball.files` (same relative paths), downloaded and unpacked once into `cache`."""
    name, version = tarball.name_and_version
    target = cache / f"npm-{name.replace('/', '+')}-{version}-{tarball.sha256[:12]}"
    if (target / ".complete").is_file() and all((target / f).is_file() for f in tarball.files):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".npm-", dir=cache))
    try:
        archive = partial / "package.tgz"
        _download(tarball, archive)
        with tarfile.open(archive, "r:gz") as tar:
            members = {member.name: member for member in tar.getmembers()}
            missing = [f for f in tarball.files if f not in members or not members[f].isfile()]
            if missing:
                raise ModelError(f"{tarball.package} has no {', '.join(missing)}: the catalog and the package disagree; "
                                 "report this to Parley")
            tar.extractall(partial, [members[f] for f in tarball.files], filter="data")
        archive.unlink()
        publish(partial, target, tarball.package)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target


def _download(tarball: NpmTarball, dest: Path) -> None:
    """`tarball` into `dest`, with progress on stderr; ModelError when it can't be had or isn't the pinned file."""
    url = tarball.url()
    print(f"Downloading {tarball.package} (voice styles, {tarball.size / 1e6:.0f} MB) from the npm registry…",
          file=sys.stderr, flush=True)
    digest = hashlib.sha256()
    received = shown = 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(dest, "wb") as out:
            while block := response.read(1 << 20):
                digest.update(block)
                out.write(block)
                received += len(block)
                if received - shown >= tarball.size // 10:
                    shown = received
                    print(f"  {100 * received // max(1, tarball.size)}%", file=sys.stderr, flush=True)
    except (urllib.error.URLError, OSError) as exc:
        raise ModelError(f"could not download {url}: {exc}. Check the network connection to the npm registry "
                         "(or set NPM_CONFIG_REGISTRY to a mirror) and run the command again") from exc
    if received != tarball.size or digest.hexdigest() != tarball.sha256:
        raise ModelError(f"{url} is not the file Parley pinned ({received:,} bytes, sha256 {digest.hexdigest()}; "
                         f"expected {tarball.size:,} bytes, sha256 {tarball.sha256}). Nothing was installed; "
                         "report this to Parley")
