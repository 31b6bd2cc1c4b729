"""Offline packs (assistant/models/packs.py): a weights file inside a framework's wheel is all that is kept."""

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
