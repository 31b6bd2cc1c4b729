"""Speech to text with mlx-whisper, on the MLX worker thread.

Whisper invents text for silence and noise ("Thanks for watching!", "you", subtitle credits): a
transcript that is only such a phrase is dropped, so silence gives no transcript rather than a
made-up one.
"""

from __future__ import annotations

import logging
import re
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.mlx_worker import MlxWorker
from assistant.models.errors import ModelError

log = logging.getLogger(__name__)

# Whisper's well-known inventions on silence, noise and music, lower-cased without punctuation.
# These are never a plausible thing to say to an assistant, so they are dropped whatever the audio.
_ALWAYS_INVENTED = {
    "thanks for watching", "thank you for watching", "thank you so much for watching", "thanks for watching bye",
    "please subscribe", "like and subscribe", "dont forget to like and subscribe", "see you in the next video",
    "subtitles by the amaraorg community", "subtitles by", "transcribed by", "translated by",
    "music", "applause", "blank_audio", "silence", "no speech", "inaudible",
    "시청해주셔서 감사합니다", "구독과 좋아요 부탁드립니다", "ご視聴ありがとうございました", "チャンネル登録お願いします",
    "字幕由amaraorg社区提供", "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目", "谢谢观看", "感谢观看",
    "untertitel im auftrag des zdf", "untertitel der amaraorg-community", "sous-titres réalisés par la communauté damaraorg",
}
# Short phrases Whisper also invents, but a person may say: dropped only when Whisper itself
# doubts there was speech.
_DOUBTFUL_WHEN_UNSURE = {"you", "thank you", "thanks", "bye", "okay", "oh", "so", "uh", "um", "hmm", "the end"}
_UNSURE_NO_SPEECH_PROB = 0.3

SHORT_AUDIO_S = 20  # up to this long, one pass on a shortened audio context (see _transcribe_short)
MIN_CONTEXT_S = 10
PADDING_S = 2
# Tokens the short pass may decode per second of audio (quick speech is about 5 a second), plus a margin:
# a decoder stuck repeating itself stops there instead of at Whisper's limit of 224 (3.5 s of decoding here).
TOKENS_PER_S = 8
TOKEN_MARGIN = 16


@dataclass(frozen=True)
class Transcript:
    """What was said. Empty `text` means no speech was found."""

    text: str
    language: str
    timings_ms: dict[str, float] = field(default_factory=dict)


def _normalized(text: str) -> str:
    return re.sub(r"[^\w\s-]", "", text.lower()).strip()


def repeated_sentence(text: str) -> str | None:
    """The sentence (or sentences) that `text` is nothing but repetitions of, the last one perhaps cut off;
    None when it is not. Whisper's decoder sometimes loops on a short utterance, saying it over and over:
    "Tell me about rain. Tell me about rain. Tell me abou", at times with the punctuation or the case of a
    repetition changed ("Tell me about dogs? tell me about dogs")."""
    text = text.strip()
    for end in re.finditer(r"[.!?…。！？]+\s*", text):  # repeated exactly (any script, CJK included)
        unit = text[: end.end()]
        if 2 * len(unit.rstrip()) > len(text):
            break
        if text == (unit * (len(text) // len(unit) + 1))[: len(text)]:
            return unit.strip()
    words = [(m.group().lower(), m.start()) for m in re.finditer(r"\w+", text)]  # repeated word for word
    for size in range(1, len(words) // 2 + 1):
        expected = [words[i % size][0] for i in range(len(words))]
        whole_but_last = all(word == want for (word, _), want in zip(words[:-1], expected))
        if whole_but_last and expected[-1].startswith(words[-1][0]):  # (the last one may be cut off)
            return text[: words[size][1]].strip()
    return None


def is_invented(text: str, no_speech_prob: float) -> bool:
    """True when `text` is one of Whisper's inventions for silence or noise."""
    phrase = _normalized(text)
    if not phrase or phrase in _ALWAYS_INVENTED:
        return True
    return phrase in _DOUBTFUL_WHEN_UNSURE and no_speech_prob >= _UNSURE_NO_SPEECH_PROB


class Transcriber:
    """Whisper speech-to-text. Thread-safe: all work is done on the MLX worker thread.

    The model loads once, on the worker. On a CPU its weights are cast to float32, the only type
    whose matrix products reach the BLAS (float16 runs several times slower there).
    """

    def __init__(self, worker: MlxWorker, model_path: Path, model_id: str = "", languages: tuple[str, ...] = ("multi",)):
        self._worker = worker
        self.model_path = Path(model_path)
        self.model_id = model_id or self.model_path.name
        self.languages = languages
        self._model = None

    @property
    def multilingual(self) -> bool:
        return "multi" in self.languages

    def load(self) -> None:
        """Load the model now (otherwise the first transcription does)."""
        self.start_loading().result()

    def start_loading(self) -> Future:
        """Queue the model load on the MLX worker and return at once."""
        return self._worker.submit(self._load_on_worker)

    def warm_up(self, language: str | None = None) -> Future:
        """Queue one transcription of a second of faint noise: MLX's first pass over a new shape
        costs about a second more than the next ones, which the user's first turn should not pay."""
        noise = np.random.default_rng(0).normal(0, 0.001, 16000).astype(np.float32)
        if not self.multilingual:
            language = None
        return self.transcribe_soon(noise, language)

    def transcribe(self, audio: np.ndarray, language: str | None = None, progress: bool = False) -> Transcript:
        """Transcribe 16 kHz mono float32 audio of any length.

        `language` is an ISO 639-1 code, or None to detect it (the detected one is returned).
        ModelError when the model can't do that language. `progress` shows a bar on stderr.
        """
        self._check_language(language)
        return self._worker.call(self._transcribe_on_worker, audio, language, progress)

    def transcribe_soon(self, audio: np.ndarray, language: str | None = None, progress: bool = False) -> Future:
        """`transcribe`, queued on the MLX worker: returns at once, the Future gives the Transcript."""
        self._check_language(language)
        return self._worker.submit(self._transcribe_on_worker, audio, language, progress)

    def _check_language(self, language: str | None) -> None:
        """ModelError, before any decoding, when `language` is no language Whisper knows (its decoder would
        raise a bare ValueError deep inside) or one this model can't do."""
        from mlx_whisper.tokenizer import LANGUAGES

        if language and language not in LANGUAGES:
            raise ModelError(f"{language!r} is not a language Whisper knows; use one of: "
                             f"{', '.join(sorted(LANGUAGES))} (or none, to detect it)")
        if language and not self.multilingual and language not in self.languages:
            raise ModelError(
                f"{self.model_id} only understands {', '.join(self.languages)}, not {language!r}; "
                "choose a multilingual Whisper (e.g. whisper-base) for it"
            )

    def _load_on_worker(self):
        if self._model is None:
            import mlx.core as mx
            from mlx.utils import tree_map
            from mlx_whisper.load_models import load_model

            started = time.perf_counter()
            model = load_model(str(self.model_path), dtype=mx.float32)
            if mx.default_device().type == mx.DeviceType.cpu:
                model.update(tree_map(lambda p: p.astype(mx.float32) if p.dtype == mx.float16 else p, model.parameters()))
            mx.eval(model.parameters())
            self._model = model
            log.info("loaded %s in %.0f ms", self.model_id, 1000 * (time.perf_counter() - started))
        return self._model

    def _transcribe_on_worker(self, audio: np.ndarray, language: str | None, progress: bool) -> Transcript:
        if not self.multilingual:
            language = "en" if self.languages == ("en",) else language
        if len(audio) <= SHORT_AUDIO_S * 16000:
            started = time.perf_counter()
            short = self._transcribe_short(np.asarray(audio, dtype=np.float32), language)
            if short is not None:
                text, detected = short
                return Transcript(text, detected, {"stt": 1000 * (time.perf_counter() - started)})
        return self._transcribe_windows(audio, language, progress)

    def _transcribe_short(self, audio: np.ndarray, language: str | None) -> tuple[str, str] | None:
        """One decoding pass with the encoder run on a shortened audio context.

        Whisper always encodes a 30 s window; for a few seconds of speech most of that is padding.
        Encoding only max(10 s, speech + 2 s) (the positional embedding sliced to match) was measured
        here at about 3.5x less time with equal word error rate; shorter contexts made the decoder loop.
        Returns None when the result looks unreliable, so the caller falls back to the full window.
        """
        import mlx.core as mx
        from mlx_whisper.audio import log_mel_spectrogram
        from mlx_whisper.decoding import DecodingOptions, decode

        model = self._load_on_worker()
        seconds = min(30, max(MIN_CONTEXT_S, int(np.ceil(len(audio) / 16000 + PADDING_S))))
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
            most = int(TOKENS_PER_S * len(audio) / 16000) + TOKEN_MARGIN
            result = decode(model, features[0], DecodingOptions(language=language, fp16=False, without_timestamps=True,
                                                                sample_len=most))
        finally:
            encoder._positional_embedding, model.dims.n_audio_ctx = full_embedding, full_ctx
        text = result.text.strip()
        if result.compression_ratio > 2.4 or result.avg_logprob < -1.0 or len(result.tokens) >= most:
            if result.no_speech_prob > 0.6:
                return "", result.language or language or ""
            once = repeated_sentence(text) if result.avg_logprob >= -1.0 else None
            if once is None:
                log.info("short-context pass unsure (compression %.2f, logprob %.2f, %d tokens); using the full "
                         "window", result.compression_ratio, result.avg_logprob, len(result.tokens))
                return None
            log.info("short-context pass said one sentence over and over; kept it once")
            text = once
        text = "" if is_invented(text, result.no_speech_prob) else text
        return text, result.language or language or ""

    def _transcribe_windows(self, audio: np.ndarray, language: str | None, progress: bool) -> Transcript:
        """mlx-whisper's own loop over 30 s windows, for long or difficult audio."""
        from mlx_whisper import transcribe
        from mlx_whisper.transcribe import ModelHolder

        model = self._load_on_worker()
        # mlx_whisper.transcribe() looks its model up in this holder; handing it ours avoids a
        # second load and keeps the float32 cast.
        ModelHolder.model, ModelHolder.model_path = model, str(self.model_path)
        started = time.perf_counter()
        result = transcribe(
            np.asarray(audio, dtype=np.float32),
            path_or_hf_repo=str(self.model_path),
            language=language,
            fp16=False,
            verbose=False if progress else None,
            condition_on_previous_text=False,  # keeps one invented phrase from seeding the next window
            temperature=(0.0, 0.2, 0.4, 0.6, 0.8),
        )
        elapsed = 1000 * (time.perf_counter() - started)
        kept = []
        for segment in result.get("segments", []):
            if is_invented(segment["text"], segment.get("no_speech_prob", 0.0)):
                log.info("dropped invented segment %r (no_speech_prob %.2f)", segment["text"], segment.get("no_speech_prob", 0.0))
                continue
            kept.append(segment["text"])  # segments carry their own leading spaces; CJK has none
        text = "".join(kept) if result.get("segments") else result.get("text", "")
        if text and is_invented(text, 0.0):
            text = ""
        return Transcript(text=text.strip(), language=result.get("language") or language or "", timings_ms={"stt": elapsed})
