"""What a converter reports about the model it wrote."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConvertedModel:
    """Describes a model a converter has just written into a folder.

    kind: "vad", "stt", "llm", "tts", "turn" or "wake".
    format: the on-disk format in the store: "mlx-whisper", "mlx-lm", "piper", "silero-onnx", "smart-turn-onnx", or for
        an imported GGUF chat model "gguf" (just model.gguf, for llama.cpp) or "gguf+mlx-lm" (model.gguf
        and the mlx-lm files beside it).
    languages: ISO 639-1 codes the model handles; ("multi",) for a multilingual Whisper.
    details: small facts worth keeping in the manifest (architecture, quantization, sizes).
    """

    kind: str
    format: str
    languages: tuple[str, ...]
    details: dict = field(default_factory=dict)
