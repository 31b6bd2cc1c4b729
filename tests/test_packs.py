"""Offline packs (assistant/models/packs.py): a weights file inside a framework's wheel is all that is kept."""

from assistant.models.packs import pack_source_path


def test_only_the_model_file_of_a_framework_wheel_is_kept(catalog, tmp_path):
    path = pack_source_path(catalog["smart-turn-v3.2"], cache=tmp_path)
    assert path.name == "smart-turn-v3.2-cpu.onnx" and path.stat().st_size == 8_679_182
    kept = [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()]
    assert sorted(str(p) for p in kept) == ["pipecat-ai-1.14.0/.complete",
                                            "pipecat-ai-1.14.0/pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"]
