"""Text to the phonemes Kokoro reads, per language: misaki's for Mandarin, espeak-ng's IPA mapped to Kokoro's
symbols for English (and Korean, `korean_phonemes.py`).

Kokoro was trained on misaki's phonemes. misaki's English needs spaCy's English model, which is reachable only from
GitHub (not the package index): instead espeak-ng (the system program, run as a separate process) writes IPA, and its
multi-letter phonemes become the single symbols misaki uses ("eɪ" → "A", "aɪ" → "I", "tʃ" → "ʧ"; misaki does the same
for words its dictionary lacks). Heard back by Whisper tiny.en, five Kokoro English styles read 15 everyday
sentences at 0-4% WER (Piper joe 2.6%).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

ESPEAK_TIMEOUT_S = 10

# espeak-ng's US English IPA (written with --tie=^ between the letters of one phoneme) → misaki's symbols; longer
# ones first. Flaps and glottal stops are kept as misaki writes them (T, t).
_ENGLISH_SYMBOLS = (
    ("a^ɪ", "I"), ("a^ʊ", "W"), ("e^ɪ", "A"), ("o^ʊ", "O"), ("ɔ^ɪ", "Y"), ("d^ʒ", "ʤ"), ("t^ʃ", "ʧ"), ("ə^l", "ᵊl"),
    ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"), ("ɪə", "iə"), ("ɚ", "əɹ"), ("ɐ", "ə"), ("r", "ɹ"), ("x", "k"), ("ç", "k"), ("ɬ", "l"),
    ("ɾ", "T"), ("ʔ", "t"), ("ː", ""), ("^", ""),
)
# A clause and the punctuation after it: espeak-ng drops punctuation, and Kokoro pauses and intones by it.
_CLAUSE = re.compile(r"([^,.!?;:。，！？；：]+)([,.!?;:。，！？；：]*)")


def phonemizer_for(language: str) -> Callable[[str], str]:
    """The function that turns text in `language` into Kokoro's phonemes (ValueError for a language it can't)."""
    if language == "zh":
        import jieba
        import logging

        from misaki.zh import ZHG2P

        jieba.setLogLevel(logging.WARNING)  # (it prints its dictionary loading otherwise)
        mandarin = ZHG2P()
        return lambda text: mandarin(text)[0]
    if language == "en":
        return english_phonemes
    if language == "ko":
        from assistant.speak.korean_phonemes import korean_phonemes

        return korean_phonemes
    raise ValueError(f"Kokoro has no phonemes for {language!r} here")


def english_phonemes(text: str) -> str:
    """US English text as Kokoro's phonemes, clause by clause with its punctuation."""
    clauses = []
    for words, punctuation in _CLAUSE.findall(text):
        if not words.strip():
            continue
        ipa = " ".join(espeak_ipa(words, "en-us").split())
        for espeak, kokoro in _ENGLISH_SYMBOLS:
            ipa = ipa.replace(espeak, kokoro)
        clauses.append(ipa + punctuation[:1])
    return " ".join(clauses)


def espeak_ipa(text: str, voice: str) -> str:
    """espeak-ng's IPA for `text` in its `voice` (language), phonemes of more than one letter tied with "^"."""
    try:
        result = subprocess.run(["espeak-ng", "-v", voice, "-q", "--ipa", "--tie=^", "--", text], capture_output=True,
                                text=True, timeout=ESPEAK_TIMEOUT_S, check=True)
    except FileNotFoundError:
        raise OSError("espeak-ng is not installed: Parley's install step puts it in (make setup; brew install "
                      "espeak-ng on a Mac)") from None
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise OSError(f"espeak-ng could not read the text ({type(exc).__name__})") from None
    return result.stdout
