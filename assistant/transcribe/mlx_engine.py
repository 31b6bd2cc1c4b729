"""Whisper on MLX (mlx-whisper): the speech-to-text engine on Apple GPUs, and for store folders without a
CTranslate2 copy. Used through `assistant.transcribe.transcriber.Transcriber`, on the MLX worker thread only."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from assistant.transcribe.engine import Decoded, Windows, WindowSegment

log = logging.getLogger(__name__)


class MlxWhisper:
    """mlx-whisper on the weights of a Parley store folder.

    On a CPU the weights are cast to float32, the only type whose matrix products reach the BLAS
    (float16 runs several times slower there).
    """

    name = "mlx"

    def __init__(self, model_path: Path) -> None:
        self.model_path = Path(model_path)
        self._model = None
        self._device = ""

    def describe(self) -> str:
        """The engine, for the log."""
        return f"MLX (mlx-whisper, float32 on the {self._device})" if self._device == "cpu" else f"MLX on the {self._device}"

    def load(self) -> None:
        """Load the weights (once)."""
        if self._model is not None:
            return
        import mlx.core as mx
        from mlx.utils import tree_map
        from mlx_whisper.load_models import load_model

        model = load_model(str(self.model_path), dtype=mx.float32)
        on_cpu = mx.default_device().type == mx.DeviceType.cpu
        if on_cpu:
            model.update(tree_map(lambda p: p.astype(mx.float32) if p.dtype == mx.float16 else p, model.parameters()))
        mx.eval(model.parameters())
        self._device = "cpu" if on_cpu else "gpu"
        self._model = model

    def decode_short(self, audio: np.ndarray, seconds: int, language: str | None, most: int) -> Decoded:
        """One greedy pass with the encoder run on `seconds` of audio context (the positional embedding
        sliced to match) instead of Whisper's 30 s, decoding at most `most` tokens."""
        import mlx.core as mx
        from mlx_whisper.audio import log_mel_spectrogram
        from mlx_whisper.decoding import DecodingOptions, decode

        self.load()
        model = self._model
        frames = seconds * 100  # 10 ms mel hop
        padded = np.zeros(seconds * 16000, dtype=np.float32)
        padded[: len(audio)] = audio
        mel = log_mel_spectrogram(mx.array(padded), n_mels=model.dims.n_mels)[:frames]
        encoder = model.encoder
        full_embedding, full_ctx = encoder._positional_embedding, model.dims.n_audio_ctx
        try:
            encoder._positional_embedding = full_embedding[: frames // 2]
            features = encoder(mel[None].astype(mx.float32))
            # decode() treats input of shape (n_audio_ctx, n_audio_state) as already encoded.
            model.dims.n_audio_ctx = frames // 2
            result = decode(model, features[0], DecodingOptions(language=language, fp16=False, without_timestamps=True,
                                                                sample_len=most))
        finally:
            encoder._positional_embedding, model.dims.n_audio_ctx = full_embedding, full_ctx
        return Decoded(text=result.text.strip(), language=result.language or language, tokens=len(result.tokens),
                       compression_ratio=result.compression_ratio, avg_logprob=result.avg_logprob,
                       no_speech_prob=result.no_speech_prob)

    def transcribe_windows(self, audio: np.ndarray, language: str | None, progress: bool) -> Windows:
        """mlx-whisper's own loop over 30 s windows, greedy with temperature fallback."""
        from mlx_whisper import transcribe
        from mlx_whisper.transcribe import ModelHolder

        self.load()
        # mlx_whisper.transcribe() looks its model up in this holder; handing it ours avoids a
        # second load and keeps the float32 cast.
        ModelHolder.model, ModelHolder.model_path = self._model, str(self.model_path)
        result = transcribe(
            np.asarray(audio, dtype=np.float32),
            path_or_hf_repo=str(self.model_path),
            language=language,
            fp16=False,
            verbose=False if progress else None,
            condition_on_previous_text=False,  # keeps one invented phrase from seeding the next window
            temperature=(0.0, 0.2, 0.4, 0.6, 0.8),
        )
        segments = [WindowSegment(s["text"], s.get("no_speech_prob", 0.0), s.get("start", 0.0), s.get("end", 0.0))
                    for s in result.get("segments", [])]
        return Windows(segments, result.get("text", ""), result.get("language") or language)
