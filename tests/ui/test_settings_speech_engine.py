"""The settings window says which engine hears with the chosen speech model (pytest-qt, offscreen, the real
default models in a store of the test's own)."""

from __future__ import annotations

from assistant.runtime.settings import Settings
from assistant.transcribe.transcriber import ENGINE_ENV
from test_settings_window import devices, open_window, store  # noqa: F401 (fixtures)


def test_the_speech_model_says_it_runs_on_faster_whisper_here(qtbot, store, catalog, devices, monkeypatch):
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    window = open_window(qtbot, Settings(), store, catalog)
    assert window.stt_engine.text() == "Runs on faster-whisper (int8, CPU)."
    assert not window.stt_engine.isHidden()  # (on the Models tab, not the one open)


def test_on_an_apple_gpu_it_says_mlx(qtbot, store, catalog, devices, monkeypatch):
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    monkeypatch.setattr("ui.settings_models_tab.apple_gpu", lambda: True)
    window = open_window(qtbot, Settings(), store, catalog)
    assert window.stt_engine.text() == "Runs on MLX (Metal GPU)."


def test_the_environment_forcing_mlx_shows(qtbot, store, catalog, devices, monkeypatch):
    monkeypatch.setenv(ENGINE_ENV, "mlx")
    window = open_window(qtbot, Settings(), store, catalog)
    assert window.stt_engine.text() == "Runs on MLX (CPU)."
