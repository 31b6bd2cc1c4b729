"""Speech to text with Whisper, on the MLX worker thread: the interface the rest of Parley uses.

Two engines run the same Whisper model (one store folder), chosen by `choose_engine`:
- faster-whisper (CTranslate2, int8; `ct2_engine.py`) wherever MLX's default device is the CPU (no Apple GPU),
  when the store folder holds the original CTranslate2 files in `ct2/` (the importer keeps them): on a 2-core x86
  CPU it took 0.22x MLX's time per short question (median 113 vs 517 ms with whisper-tiny.en, 204 vs 865 ms with
  whisper-base) at equal word error rate (benchmarks/stt.py), and it leaves the CPU to the rest of a turn;
- MLX (mlx-whisper; `mlx_engine.py`) on Apple GPUs (Metal), and for folders without `ct2/`.
PARLEY_STT_ENGINE=ct2 or =mlx forces one; ct2 on a folder without `ct2/` is a ModelError when the model loads.
Either runs on the worker thread, so speech recognition stays serialized on one thread, and its output is
judged here the same way: language checks and a token budget here, inventions and repetitions in `guards.py`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.runtime.mlx_worker import MlxWorker
from assistant.servers.outage import Outage
from assistant.servers.server_address import ServerUnavailable
from assistant.models.errors import ModelError
from assistant.transcribe.engine import Decoded, WhisperEngine, Windows
from assistant.transcribe.guards import (  # noqa: F401  (is_invented, repeated_sentence: used from here too)
    Loudness, Piece, is_invented, repeated_sentence, said_once, without_repeats,
)
from assistant.transcribe.server_speech import ServerSpeech
from assistant.transcribe.whisper_languages import whisper_languages

log = logging.getLogger(__name__)

ENGINE_ENV = "PARLEY_STT_ENGINE"
ENGINES = ("mlx", "ct2")
CT2_FOLDER = "ct2"  # the importer's copy of the CTranslate2 files, inside the store folder

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


def mlx_on_gpu() -> bool:
    """True where MLX's default device is a GPU (Metal, on Apple Silicon). Asks MLX: call it on the MLX worker
    thread, or where no MLX work runs yet."""
    import mlx.core as mx

    return mx.default_device().type == mx.DeviceType.gpu


def choose_engine(model_path: Path, forced: str | None = None, on_gpu: bool | None = None) -> str:
    """"ct2" or "mlx" for the store folder `model_path`: `forced`, else $PARLEY_STT_ENGINE, else ct2 where MLX
    would run on the CPU (`on_gpu` False; None asks MLX, see `mlx_on_gpu`) and the folder has its CTranslate2
    copy, else MLX. ModelError for an unknown name, or ct2 without the copy."""
    name = (forced or os.environ.get(ENGINE_ENV, "")).strip().lower()
    has_ct2 = (Path(model_path) / CT2_FOLDER / "model.bin").is_file()
    if name:
        if name not in ENGINES:
            raise ModelError(f"{ENGINE_ENV}={name!r} is no speech-to-text engine; use one of: {', '.join(ENGINES)}")
        if name == "ct2" and not has_ct2:
            raise ModelError(f"{model_path} has no CTranslate2 copy ({CT2_FOLDER}/), so it cannot run on ct2: it was "
                             "installed before Parley kept one. Reinstall it (parley models remove ID, then parley "
                             f"models setup) or set {ENGINE_ENV}=mlx")
        return name
    if not has_ct2:
        return "mlx"
    return "mlx" if (mlx_on_gpu() if on_gpu is None else on_gpu) else "ct2"


@dataclass(frozen=True)
class EngineChoice:
    """Which engine hears with a store folder, in words for `parley doctor` and the settings window."""

    engine: str  # "ct2" or "mlx"
    label: str  # "faster-whisper (int8, CPU)", "MLX (Metal GPU)", "MLX (CPU)"
    why: str  # "faster-whisper int8 on the CPU; MLX on Metal where available"
    slow: bool  # MLX on a CPU, only because the folder has no CTranslate2 copy: reinstalling it helps


def engine_choice(model_path: Path, on_gpu: bool | None = None) -> EngineChoice:
    """The engine that will hear with the store folder `model_path`, and why (`on_gpu` as for `choose_engine`);
    an unknown or impossible $PARLEY_STT_ENGINE raises `choose_engine`'s ModelError."""
    gpu = mlx_on_gpu() if on_gpu is None else on_gpu
    engine = choose_engine(model_path, on_gpu=gpu)
    label = "faster-whisper (int8, CPU)" if engine == "ct2" else f"MLX ({'Metal GPU' if gpu else 'CPU'})"
    forced = bool(os.environ.get(ENGINE_ENV, "").strip())
    if forced:
        why = f"{label}, as {ENGINE_ENV} says"
    elif engine == "ct2":
        why = "faster-whisper int8 on the CPU; MLX on Metal where available"
    elif gpu:
        why = "MLX on the Metal GPU; faster-whisper int8 on CPUs"
    else:
        why = f"MLX on the CPU, since the model has no CTranslate2 copy ({CT2_FOLDER}/) for faster-whisper"
    return EngineChoice(engine, label, why, slow=engine == "mlx" and not gpu and not forced)


class Transcriber:
    """Whisper speech-to-text. Thread-safe: all work is done on the MLX worker thread.

    The engine (see the module's docstring) is chosen, and the model loaded, once, on the worker.
    `engine` ("mlx" or "ct2") forces one, as $PARLEY_STT_ENGINE does; benchmarks may hand in a
    WhisperEngine of their own (not yet loaded) instead.
    """

    def __init__(self, worker: MlxWorker, model_path: Path, model_id: str = "", languages: tuple[str, ...] = ("multi",),
                 engine: str | WhisperEngine | None = None, chinese_script: str = "simplified",
                 server: ServerSpeech | None = None, on_server_failed: Callable[[str], None] | None = None):
        """`chinese_script`: a Chinese transcript is written in it ("simplified" or "traditional"), whichever
        script Whisper chose. `server`: a speech-to-text server that hears first; when it fails, this model hears
        the turn and `on_server_failed` is told why (a sentence for the user)."""
        self.server = server
        self._on_server_failed = on_server_failed or (lambda message: None)
        self._server_outage = Outage()  # (on the worker thread only)
        self._worker = worker
        self.chinese_script = chinese_script
        self.model_path = Path(model_path)
        self.model_id = model_id or self.model_path.name
        self.languages = languages
        self._forced_engine = engine if isinstance(engine, str) else None
        self._given_engine = None if isinstance(engine, str) else engine
        self._engine: WhisperEngine | None = None

    @property
    def multilingual(self) -> bool:
        return "multi" in self.languages

    @property
    def engine(self) -> str | None:
        """The engine's name ("mlx" or "ct2") once the model has loaded, else None."""
        return self._engine.name if self._engine else None

    @property
    def _model(self):
        """The loaded mlx-whisper model when MLX runs, else None (tests look at its weights' types)."""
        return getattr(self._engine, "_model", None) if self.engine == "mlx" else None

    def load(self) -> None:
        """Load the model now (otherwise the first transcription does)."""
        self.start_loading().result()

    def start_loading(self) -> Future:
        """Queue the model load on the MLX worker and return at once."""
        return self._worker.submit(self._load_on_worker)

    def warm_up(self, language: str | None = None) -> Future:
        """Queue one transcription of a second of faint noise: the first pass over a new shape
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
        known = whisper_languages()
        if language and language not in known:
            raise ModelError(f"{language!r} is not a language Whisper knows; use one of: "
                             f"{', '.join(sorted(known))} (or none, to detect it)")
        if language and not self.multilingual and language not in self.languages:
            raise ModelError(
                f"{self.model_id} only understands {', '.join(self.languages)}, not {language!r}; "
                "choose a multilingual Whisper (e.g. whisper-base) for it"
            )

    def _load_on_worker(self) -> WhisperEngine:
        if self._engine is None:
            engine: WhisperEngine
            started = time.perf_counter()
            if self._given_engine is not None:
                engine = self._given_engine
            elif choose_engine(self.model_path, self._forced_engine) == "ct2":
                from assistant.transcribe.ct2_engine import Ct2Whisper

                engine = Ct2Whisper(self.model_path / CT2_FOLDER)
            else:
                from assistant.transcribe.mlx_engine import MlxWhisper

                engine = MlxWhisper(self.model_path)
            engine.load()
            whisper_languages()  # _check_language reads it: read it now rather than in a first turn

            self._engine = engine
            log.info("loaded %s in %.0f ms; speech to text runs on %s", self.model_id,
                     1000 * (time.perf_counter() - started), engine.describe())
        return self._engine

    def _transcribe_on_worker(self, audio: np.ndarray, language: str | None, progress: bool) -> Transcript:
        transcript = self._transcribe_any_script(audio, language, progress)
        if transcript.language == "zh" and transcript.text:
            from assistant.chinese_script import in_script

            transcript = dataclasses.replace(transcript, text=in_script(transcript.text, self.chinese_script))
        return transcript

    def _transcribe_any_script(self, audio: np.ndarray, language: str | None, progress: bool) -> Transcript:
        if self.server is not None and len(audio) and self._server_outage.worth_asking():
            started = time.perf_counter()
            try:
                text, heard = self.server.transcribe(audio, language)
                self._server_outage.answered()
                return Transcript(text, heard or language or "", {"stt": 1000 * (time.perf_counter() - started)})
            except ServerUnavailable as exc:
                log.warning("%s; heard on this computer instead", exc)
                if self._server_outage.failed():  # said once, not at every pass while it stays down
                    self._on_server_failed(f"{exc}. Parley hears you with {self.model_id} on this computer meanwhile.")
        engine = self._load_on_worker()
        if not self.multilingual:
            language = "en" if self.languages == ("en",) else language
        if len(audio) <= SHORT_AUDIO_S * 16000:
            started = time.perf_counter()
            short = self._transcribe_short(engine, np.asarray(audio, dtype=np.float32), language)
            if short is not None:
                text, detected = short
                return Transcript(text, detected, {"stt": 1000 * (time.perf_counter() - started)})
        return self._transcribe_windows(engine, audio, language, progress)

    def _transcribe_short(self, engine: WhisperEngine, audio: np.ndarray, language: str | None) -> tuple[str, str] | None:
        """One decoding pass with the encoder run on a shortened audio context.

        Whisper always encodes a 30 s window; for a few seconds of speech most of that is padding.
        Encoding only max(10 s, speech + 2 s) (the positional embedding sliced to match) was measured
        here at about 3.5x less time with equal word error rate; shorter contexts made the decoder loop.
        Returns None when the result looks unreliable, so the caller falls back to the full window.
        """
        seconds = min(30, max(MIN_CONTEXT_S, int(np.ceil(len(audio) / 16000 + PADDING_S))))
        most = int(TOKENS_PER_S * len(audio) / 16000) + TOKEN_MARGIN
        result: Decoded = engine.decode_short(audio, seconds, language, most)
        text = result.text
        if result.compression_ratio > 2.4 or result.avg_logprob < -1.0 or result.tokens >= most:
            if result.no_speech_prob > 0.6:
                return "", result.language or language or ""
            once = repeated_sentence(text) if result.avg_logprob >= -1.0 else None
            if once is None:
                log.info("short-context pass unsure (compression %.2f, logprob %.2f, %d tokens); using the full "
                         "window", result.compression_ratio, result.avg_logprob, result.tokens)
                return None
            log.info("short-context pass said one sentence over and over; kept it once")
            text = once
        else:
            text = said_once(text, Loudness(audio).sound_seconds())
        text = "" if is_invented(text, result.no_speech_prob) else text
        return text, result.language or language or ""

    def _transcribe_windows(self, engine: WhisperEngine, audio: np.ndarray, language: str | None,
                            progress: bool) -> Transcript:
        """The engine's own loop over 30 s windows, for long or difficult audio."""
        started = time.perf_counter()
        result: Windows = engine.transcribe_windows(audio, language, progress)
        elapsed = 1000 * (time.perf_counter() - started)
        loudness = Loudness(np.asarray(audio, dtype=np.float32))
        kept = []
        for segment in result.segments:
            if is_invented(segment.text, segment.no_speech_prob):
                log.info("dropped invented segment %r (no_speech_prob %.2f)", segment.text, segment.no_speech_prob)
                continue
            # Segments carry their own leading spaces; CJK has none.
            sound = loudness.sound_seconds(segment.start, segment.end)
            kept.append(Piece(said_once(segment.text, sound), sound))
        text = without_repeats(kept) if result.segments else result.text
        if text and is_invented(text, 0.0):
            text = ""
        return Transcript(text=text.strip(), language=result.language or language or "", timings_ms={"stt": elapsed})

