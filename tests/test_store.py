"""The model store: atomic installs, manifests, removal, and leftovers of interrupted installs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.models.errors import ModelError
from assistant.models.importers.converted import ConvertedModel
from assistant.models.install import import_path
from assistant.models.store import ModelStore


def _writer(payload: bytes = b"weights"):
    def build(dest: Path) -> ConvertedModel:
        (dest / "weights.bin").write_bytes(payload)
        return ConvertedModel(kind="stt", format="mlx-whisper", languages=("en",), details={"n": 1})

    return build


def test_install_writes_manifest_and_lists_model(tmp_path):
    store = ModelStore(tmp_path)
    model = store.install("m1", _writer(b"x" * 1000), source="test")
    manifest = json.loads((tmp_path / "m1" / "manifest.json").read_text())
    assert manifest["id"] == "m1" and manifest["kind"] == "stt" and manifest["source"] == "test"
    assert model.size_bytes >= 1000
    assert [m.id for m in store.installed()] == ["m1"]
    assert store.get("m1").languages == ("en",)


def test_failed_build_leaves_nothing_behind(tmp_path):
    store = ModelStore(tmp_path)

    def broken(dest: Path) -> ConvertedModel:
        (dest / "half.bin").write_bytes(b"half")
        raise ModelError("corrupt source")

    with pytest.raises(ModelError):
        store.install("m1", broken, source="test")
    assert list(tmp_path.iterdir()) == []


def test_reinstall_replaces_only_when_complete(tmp_path):
    store = ModelStore(tmp_path)
    store.install("m1", _writer(b"old"), source="one")

    def broken(dest: Path) -> ConvertedModel:
        raise ModelError("bad")

    with pytest.raises(ModelError):
        store.install("m1", broken, source="two")
    assert (tmp_path / "m1" / "weights.bin").read_bytes() == b"old"
    store.install("m1", _writer(b"new"), source="three")
    assert (tmp_path / "m1" / "weights.bin").read_bytes() == b"new"
    assert store.get("m1").source == "three"
    assert [p.name for p in tmp_path.iterdir()] == ["m1"]


def test_remove(tmp_path):
    store = ModelStore(tmp_path)
    store.install("m1", _writer(), source="test")
    store.remove("m1")
    assert store.installed() == [] and list(tmp_path.iterdir()) == []
    with pytest.raises(ModelError, match="not installed"):
        store.remove("m1")


@pytest.mark.parametrize("bad_id", ["", "../evil", ".hidden", "a/b"])
def test_ids_cannot_escape_the_store(tmp_path, bad_id):
    with pytest.raises(ModelError, match="not a valid model id"):
        ModelStore(tmp_path).install(bad_id, _writer(), source="test")


def test_leftovers_of_a_dead_process_are_cleaned_on_open(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / f".staging-{pid}-m1-abc").mkdir()
    (tmp_path / f".staging-{pid}-m1-abc" / "half.bin").write_bytes(b"x")
    (tmp_path / f".staging-{os.getpid()}-m2-abc").mkdir()  # a live process's install in progress
    ModelStore(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [f".staging-{os.getpid()}-m2-abc"]


def test_unreadable_manifest_is_skipped(tmp_path):
    store = ModelStore(tmp_path)
    store.install("m1", _writer(), source="test")
    (tmp_path / "m1" / "manifest.json").write_text("{not json")
    assert store.installed() == []


def test_full_disk_during_import_leaves_no_half_model(tmp_path, joe_voice_onnx):
    """A real full disk: a 20 MB tmpfs cannot hold the 63 MB voice."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root on Linux")
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount_point)]).returncode != 0:
        pytest.skip("this sandbox does not allow mounting tmpfs")
    try:
        store = ModelStore(mount_point / "store")
        with pytest.raises(ModelError) as caught:
            import_path(store, joe_voice_onnx, "joe")
        assert "full" in str(caught.value) and "Nothing was installed" in str(caught.value)
        assert list((mount_point / "store").iterdir()) == []
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)
