"""Can an installed model actually be loaded? Used by `parley doctor`. (Here, beside the command, rather than in
models/: it loads each model with the stage that will run it, and models/ imports no stage.)"""

from __future__ import annotations

from assistant.models.errors import ModelError
from assistant.models.store import InstalledModel


def check_loadable(model: InstalledModel) -> None:
    """Load the model once with the runtime that will use it; ModelError (with the fix) if that fails."""
    try:
        _load(model)
    except ModelError as exc:
        raise ModelError(f"{model.id}: {exc}. Reinstall it: parley models remove {model.id}, then install it again") from exc
    except Exception as exc:  # loaders raise anything from ValueError to RuntimeError for bad files
        raise ModelError(
            f"{model.id} ({model.path}) does not load: {type(exc).__name__}: {str(exc)[:300]}. "
            f"Reinstall it: parley models remove {model.id}, then install it again"
        ) from exc


def _load(model: InstalledModel) -> None:
    if model.format == "mlx-whisper":
        import mlx.core as mx
        from mlx_whisper.load_models import load_model

        load_model(str(model.path), dtype=mx.float32)
    elif model.format in ("mlx-lm", "gguf", "gguf+mlx-lm"):
        if model.gguf_file is not None:
            _load_in_llama_cpp(model)
        if model.has_mlx_weights:
            from mlx_lm import load

            load(str(model.path))
    elif model.format == "piper":
        from piper import PiperVoice

        from assistant.models.files import PIPER_VOICE_FILE

        PiperVoice.load(model.path / PIPER_VOICE_FILE)
    elif model.format == "silero-onnx":
        from assistant.models.files import VAD_FILE
        from assistant.models.importers.onnx_check import open_onnx

        open_onnx(model.path / VAD_FILE)
    elif model.format == "smart-turn-onnx":
        from assistant.listen.smart_turn import SmartTurn
        from assistant.models.files import TURN_FILE

        SmartTurn(model.path / TURN_FILE)
    elif model.format == "kokoro":
        from assistant.speak.kokoro_styles import style_for
        from assistant.speak.kokoro_voice import KokoroVoice

        KokoroVoice(model.path, style_for(model, None), voice_id=model.id, language=model.languages[0]).load()
    elif model.format == "micro-wake-word":
        from assistant.listen.wake_word import WakeWordDetector

        for phrase in model.details.get("phrases", {}):
            WakeWordDetector(model.path, phrase)
    else:
        raise ModelError(f"unknown format {model.format!r} in its manifest")


def _load_in_llama_cpp(model: InstalledModel) -> None:
    from assistant.chat.llama_cpp_engine import LlamaCppChat

    engine = LlamaCppChat(model.gguf_file, model_id=model.id)
    try:
        engine.load()
    finally:
        engine.close(timeout=5)
