"""What a converter reports about the model it wrote."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConvertedModel:
    """Describes a model a converter has just written into a folder.

    kind: "vad", "stt", "llm" or "tts".
    format: the on-disk format in the store: "mlx-whisper", "mlx-lm", "piper" or "silero-onnx".
    languages: ISO 639-1 codes the model handles; ("multi",) for a multilingual Whisper.
    details: small facts worth keeping in the manifest (architecture, quantization, sizes).
    """

    kind: str
    format: str
    languages: tuple[str, ...]
    details: dict = field(default_factory=dict)
