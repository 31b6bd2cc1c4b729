"""Korean and Chinese (and English beside them), measured: how well Parley hears real recordings, and how well each
voice it would answer with is understood.

- Hearing: the recordings in tests/data/speech/{en,ko,zh} (real speakers with reference transcripts; sources and
  licences in their SOURCES.md) transcribed by Parley's speech model, on the engine it would choose here, as a turn
  is: the language given, and detected ("auto"). Character error rate (CER: edit distance over the reference's
  characters, punctuation and spaces left out), for English word error rate too (WER, after Whisper's English
  normalizer), how often the language was detected right, and the median time per utterance.
- Speaking: for each language, the voice Parley would choose (`choose_voice`: Piper for English, Kokoro for Korean
  and Mandarin, else the system's, espeak-ng here) says a fixed set of everyday sentences; Parley's speech model
  transcribes them back with the language given. CER for all, WER for English, and the time to the first audio of a
  short sentence. The same measure for every voice, so they compare (espeak-ng's and Kokoro's English too, beside
  Piper's).

`python -m benchmarks.languages` prints the figures as JSON (part of `make bench`).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import unicodedata
from pathlib import Path

import assistant  # noqa: F401  (optimized BLAS before mlx)
import numpy as np

from assistant.audio_files import read_audio, resample
from assistant.conversation.engines import Engines, choose_voice
from assistant.models.store import ModelStore
from assistant.runtime.settings import Settings
from assistant.speak.system_voice import SystemVoice, system_voice_for
from benchmarks.stt import edit_distance

RECORDINGS = Path(__file__).resolve().parent.parent / "tests" / "data" / "speech"
SENTENCES = {
    "en": ["What is the capital of France?", "Wake me up at seven tomorrow morning.", "I would like a glass of water.",
           "The weather in Seoul is sunny today.", "What is the name of this song?"],
    "ko": ["한국의 수도는 서울입니다.", "내일 아침 일곱 시에 깨워 주세요.", "물 한 잔 마시고 싶어요.", "오늘 서울의 날씨는 맑습니다.",
           "이 노래 제목이 뭐예요?"],
    "zh": ["中国的首都是北京。", "请明天早上七点叫醒我。", "我想喝一杯水。", "今天北京的天气很好。", "这首歌叫什么名字？"],
}


def characters(text: str) -> list[str]:
    """The characters that count for CER: letters and digits, lower-cased (punctuation, spaces and symbols out)."""
    return [c for c in unicodedata.normalize("NFC", text.lower()) if unicodedata.category(c)[0] in "LN"]


def error_rate(pairs: list[tuple[str, str]], words: bool = False) -> float:
    """Edit distance over reference length, summed over (reference, heard) pairs: CER, or WER with `words`."""
    split = (lambda text: "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split()) if words \
        else characters
    errors = sum(edit_distance(split(reference), split(heard)) for reference, heard in pairs)
    return round(errors / max(1, sum(len(split(reference)) for reference, _ in pairs)), 3)


def recordings(language: str) -> list[tuple[Path, str]]:
    folder = RECORDINGS / language
    return [(path, path.with_suffix(".txt").read_text(encoding="utf-8-sig").strip())
            for path in sorted(folder.iterdir()) if path.suffix in (".wav", ".flac")]


def hearing(engines: Engines, language: str) -> dict:
    """Parley's speech model on the real recordings of `language`: given the language, and detecting it."""
    given, detected, seconds, right = [], [], [], 0
    for wav, reference in recordings(language):
        audio = read_audio(wav)
        started = time.perf_counter()
        text = engines.transcriber(language).transcribe(audio, language).text
        seconds.append(time.perf_counter() - started)
        given.append((reference, text))
        auto = engines.transcriber(None).transcribe(audio, None)
        detected.append((reference, auto.text))
        right += auto.language == language
        print(f"{language} {wav.stem}: {text!r} (auto, {auto.language}: {auto.text!r})", file=sys.stderr, flush=True)
    figures = {"utterances": len(given), "cer": error_rate(given), "cer_detected": error_rate(detected),
               "language_detected": f"{right}/{len(given)}", "median_s": round(statistics.median(seconds), 3)}
    if language == "en":
        from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

        normalize = EnglishTextNormalizer({})
        figures["wer"] = error_rate([(normalize(ref), normalize(heard)) for ref, heard in given], words=True)
    return figures


def speaking(engines: Engines, language: str, system: bool = False, voice_id: str = "") -> dict:
    """The voice Parley answers `language` with (or the system's, or `voice_id`, for comparison), understood by
    Parley's speech model; and its time to the first audio of a short sentence (median of three, after one)."""
    if system:
        info = system_voice_for(language)
        name, voice = info.name, SystemVoice(info)
    elif voice_id:
        name, voice = voice_id, engines.voice_named(voice_id)
    else:
        name, voice = choose_voice(engines.store, engines.settings.models.tts, language).name, engines.voice_for(language)
    first_audio = []
    for _ in range(4):
        started = time.perf_counter()
        next(iter(voice.synthesize(SENTENCES[language][0])))
        first_audio.append(1000 * (time.perf_counter() - started))
    pairs = []
    for sentence in SENTENCES[language]:
        chunks = list(voice.synthesize(sentence))
        audio = resample(np.concatenate([c.audio for c in chunks]), chunks[0].sample_rate, 16000)
        heard = engines.transcriber(language).transcribe(audio.astype(np.float32), language).text
        pairs.append((sentence, heard))
        print(f"{language} {name}: {sentence!r} → {heard!r}", file=sys.stderr, flush=True)
    figures = {"voice": name, "sentences": len(pairs), "cer": error_rate(pairs),
               "first_audio_ms": round(statistics.median(first_audio[1:]))}
    if language == "en":
        figures["wer"] = error_rate(pairs, words=True)
    return figures


def main() -> dict:
    engines = Engines(Settings(), ModelStore())
    try:
        result = {
            "speech_model": engines.transcriber(None).model_id,
            "hearing": {language: hearing(engines, language) for language in ("en", "ko", "zh")},
            "speech_engine": engines.transcriber(None).engine,
            "speaking": {language: speaking(engines, language) for language in SENTENCES},
            # The same measure for espeak-ng's English: how far the Korean and Chinese figures are from its best.
            "speaking_system_en": speaking(engines, "en", system=True) if system_voice_for("en") else None,
            # Kokoro's English, offered beside Piper's (which stays the default while it is quicker to first audio).
            "speaking_kokoro_en": speaking(engines, "en", voice_id="kokoro:af_heart"),
        }
    finally:
        engines.close()
    print(json.dumps({"languages": result}, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
