"""Korean text as phonemes for Kokoro, which was never trained on Korean: a Korean reading in symbols Kokoro knows
from other languages, read with a Japanese style.

Written here because nothing usable offline does it: espeak-ng's Korean IPA leaves out the sound changes between
syllables (입니다 stays "ipnida"), writes ㄱ as a uvular q and a final ㄹ as ɫ (not in Kokoro's symbols), and Kokoro
read it at 48.5% CER heard back by Whisper base; g2pkk downloads NLTK data and installs MeCab when imported. This
applies the common rules of standard pronunciation (표준 발음법) within each word, then writes each sound with the
symbol Kokoro reads closest: 11.7% CER on 15 everyday sentences with the style jf_nezumi (the README's languages
table). Numbers are read as Korean words first (`korean_numbers.py`), Latin words as English (`kokoro_phonemes`).
"""

from __future__ import annotations

import re

from assistant.speak.korean_numbers import numbers_in_korean

_ONSETS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_CODAS = ("", "ㄱ", "ㄲ", "ㄱㅅ", "ㄴ", "ㄴㅈ", "ㄴㅎ", "ㄷ", "ㄹ", "ㄹㄱ", "ㄹㅁ", "ㄹㅂ", "ㄹㅅ", "ㄹㅌ", "ㄹㅍ", "ㄹㅎ",
          "ㅁ", "ㅂ", "ㅂㅅ", "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ")

# What a final consonant is said as before another consonant or at the end of a word (double finals lose one).
_NEUTRAL = {"ㄲ": "ㄱ", "ㅋ": "ㄱ", "ㄱㅅ": "ㄱ", "ㄹㄱ": "ㄱ", "ㅅ": "ㄷ", "ㅆ": "ㄷ", "ㅈ": "ㄷ", "ㅊ": "ㄷ", "ㅌ": "ㄷ",
            "ㅎ": "ㄷ", "ㅍ": "ㅂ", "ㅂㅅ": "ㅂ", "ㄹㅍ": "ㅂ", "ㄴㅈ": "ㄴ", "ㄴㅎ": "ㄴ", "ㄹㅁ": "ㅁ", "ㄹㅂ": "ㄹ",
            "ㄹㅅ": "ㄹ", "ㄹㅌ": "ㄹ", "ㄹㅎ": "ㄹ"}
_TENSE = {"ㄱ": "ㄲ", "ㄷ": "ㄸ", "ㅂ": "ㅃ", "ㅅ": "ㅆ", "ㅈ": "ㅉ"}
_ASPIRATED = {"ㄱ": "ㅋ", "ㄷ": "ㅌ", "ㅂ": "ㅍ", "ㅈ": "ㅊ"}
_NASAL = {"ㄱ": "ㅇ", "ㄷ": "ㄴ", "ㅂ": "ㅁ"}
_STOP_CLASS = {"ㄱ": "ㄱ", "ㄲ": "ㄱ", "ㅋ": "ㄱ", "ㄷ": "ㄷ", "ㅅ": "ㄷ", "ㅆ": "ㄷ", "ㅈ": "ㅈ", "ㅊ": "ㅈ", "ㅌ": "ㄷ",
               "ㅂ": "ㅂ", "ㅍ": "ㅂ"}

# The symbols: ㅐ and ㅔ (merged in today's speech) as ɛ; plain stops voiced between voiced sounds; tense consonants
# as plain unvoiced ones (Kokoro has no mark for them: written apart, ʔk, they read worse).
_VOWEL_SOUNDS = {"ㅏ": "a", "ㅐ": "ɛ", "ㅑ": "ja", "ㅒ": "jɛ", "ㅓ": "ʌ", "ㅔ": "ɛ", "ㅕ": "jʌ", "ㅖ": "jɛ", "ㅗ": "o",
                 "ㅘ": "wa", "ㅙ": "wɛ", "ㅚ": "wɛ", "ㅛ": "jo", "ㅜ": "u", "ㅝ": "wʌ", "ㅞ": "wɛ", "ㅟ": "wi",
                 "ㅠ": "ju", "ㅡ": "ɯ", "ㅢ": "ɯi", "ㅣ": "i"}
_PLAIN = {"ㄱ": "k", "ㄷ": "t", "ㅂ": "p", "ㅈ": "ʨ"}
_VOICED = {"ㄱ": "ɡ", "ㄷ": "d", "ㅂ": "b", "ㅈ": "ʥ"}
_OTHER_ONSETS = {"ㅋ": "kʰ", "ㅌ": "tʰ", "ㅍ": "pʰ", "ㅊ": "ʨʰ", "ㄲ": "k", "ㄸ": "t", "ㅃ": "p", "ㅉ": "ʨ",
                 "ㄴ": "n", "ㅁ": "m", "ㅎ": "h", "ㅇ": ""}
_CODA_SOUNDS = {"ㄱ": "k", "ㄷ": "t", "ㅂ": "p", "ㄴ": "n", "ㅁ": "m", "ㅇ": "ŋ", "ㄹ": "l"}

_PHRASE = re.compile(r"([^.,!?;:。、，！？；：]*)([.,!?;:。、，！？；：]*)")
_LATIN = re.compile(r"([A-Za-z][A-Za-z'’\- ]*[A-Za-z]|[A-Za-z])")
_MARKS = str.maketrans("。、，！？；：", ".,,!?;:")


def korean_phonemes(text: str) -> str:
    """Korean `text` (Latin words and numbers in it too) as Kokoro's phonemes."""
    from assistant.speak.kokoro_phonemes import english_phonemes

    pieces = []
    for part in _LATIN.split(numbers_in_korean(text)):
        if _LATIN.fullmatch(part):
            try:
                pieces.append(english_phonemes(part))
            except OSError:  # no espeak-ng (a Mac without it): the Korean around it is still said
                continue
        elif part.strip():
            pieces.append(_hangul_phonemes(part))
    return " ".join(piece for piece in pieces if piece)


def _hangul_phonemes(text: str) -> str:
    phrases = []
    for chunk, marks in _PHRASE.findall(text):
        words = [[_syllable(ch) for ch in word if _syllable(ch)] for word in chunk.split()]
        words = [word for word in words if word]
        if words:
            phrases.append(" ".join(_spoken(words)) + marks[:1].translate(_MARKS))
    return " ".join(phrases)


def _syllable(ch: str) -> list[str] | None:
    """[onset, vowel, final] of a Hangul syllable, or None for any other character."""
    code = ord(ch) - 0xAC00
    if not 0 <= code < 11172:
        return None
    return [_ONSETS[code // 588], _VOWELS[code % 588 // 28], _CODAS[code % 28]]


def _spoken(words: list[list[list[str]]]) -> list[str]:
    """The words of a phrase as sounds: spelling simplified, the rules applied between a word's syllables, and each
    sound written (plain stops are voiced after a voiced sound, across words too)."""
    for word in words:
        _simplify(word)
        for first, second in zip(word, word[1:]):
            _between(first, second)
        word[-1][2] = _NEUTRAL.get(word[-1][2], word[-1][2])
    written, voiced_before = [], False
    for word in words:
        sounds, final_before = "", ""
        for onset, vowel, final in word:
            vowel_sound = _VOWEL_SOUNDS[vowel]
            if onset in _PLAIN:
                consonant = _VOICED[onset] if voiced_before else _PLAIN[onset]
            elif onset in ("ㅅ", "ㅆ"):
                consonant = "ɕ" if vowel_sound[0] in "ij" else "s"
            elif onset == "ㄹ":
                consonant = "l" if final_before == "ㄹ" else "ɾ"
            else:
                consonant = _OTHER_ONSETS[onset]
            sounds += consonant + vowel_sound + _CODA_SOUNDS.get(final, "")
            voiced_before = not final or final in "ㄴㅁㅇㄹ"
            final_before = final
        written.append(sounds)
    return written


def _simplify(word: list[list[str]]) -> None:
    """Spellings said otherwise: 의 (as ɯi first, 에 as the last syllable, else 이), ㅖ after most consonants, 져/쪄/쳐,
    and the tense ㄱ of -ㄹ게(요)."""
    for index, syllable in enumerate(word):
        if syllable[1] == "ㅢ":
            if syllable[0] != "ㅇ":
                syllable[1] = "ㅣ"
            elif index > 0:
                syllable[1] = "ㅔ" if index == len(word) - 1 else "ㅣ"
        if syllable[1] == "ㅖ" and syllable[0] not in ("ㅇ", "ㄹ"):
            syllable[1] = "ㅔ"
        if syllable[1] == "ㅕ" and syllable[0] in ("ㅈ", "ㅉ", "ㅊ"):
            syllable[1] = "ㅓ"
        if (index > 0 and word[index - 1][2] == "ㄹ" and syllable[:2] == ["ㄱ", "ㅔ"]
                and index >= len(word) - 2):
            syllable[0] = "ㄲ"


def _between(first: list[str], second: list[str]) -> None:
    """The sound changes between a syllable and the next in a word (in place): ㅎ, linking, neutralising, tensing,
    nasalising and the ㄹ rules."""
    final, onset = first[2], second[0]
    if not final:
        return
    if final in ("ㅎ", "ㄴㅎ", "ㄹㅎ"):  # ㅎ aspirates a following stop, tenses ㅅ, and is silent before a vowel
        rest = final[:-1]
        if onset in _ASPIRATED:
            first[2], second[0] = rest, _ASPIRATED[onset]
            return
        if onset == "ㅅ":
            first[2], second[0] = rest, "ㅆ"
            return
        first[2] = final = rest if onset == "ㅇ" else (rest or ("ㄴ" if onset == "ㄴ" else "ㄷ"))
        if not final:
            return
    if onset == "ㅎ" and final[-1] in _STOP_CLASS:  # a stop before ㅎ: aspirated (축하 → 추카)
        first[2] = "ㄹ" if final in ("ㄹㄱ", "ㄹㅂ") else final[:-1] if len(final) > 1 else ""
        second[0] = _ASPIRATED[_STOP_CLASS[final[-1]]]
        return
    if onset == "ㅇ" and final != "ㅇ":  # linking into the vowel (없어 → 업써), palatalised before ㅣ (같이 → 가치)
        if len(final) == 2:
            first[2], second[0] = final[0], "ㅆ" if final[1] == "ㅅ" else final[1]
        else:
            first[2], second[0] = "", final
        if second[1] == "ㅣ" and second[0] in ("ㄷ", "ㅌ"):
            second[0] = "ㅈ" if second[0] == "ㄷ" else "ㅊ"
        return
    if len(final) == 2:  # a double final before a consonant keeps one (읽고 → 일꼬, 넓다 → 널따)
        final = "ㄹ" if final == "ㄹㄱ" and onset == "ㄱ" else _NEUTRAL[final]
        if onset in _TENSE and final in ("ㄹ", "ㄴ", "ㅁ"):
            second[0] = onset = _TENSE[onset]
    first[2] = final = _NEUTRAL.get(final, final)
    if final in ("ㄱ", "ㄷ", "ㅂ") and onset in _TENSE:  # tensing after a stop (학교 → 학꾜)
        second[0] = onset = _TENSE[onset]
    if final in _NASAL and onset in ("ㄴ", "ㅁ"):  # nasalising (입니다 → 임니다)
        first[2] = final = _NASAL[final]
    if onset == "ㄹ":  # ㄹ after ㅁ ㅇ ㄱ ㅂ is ㄴ (and nasalises them); ㄴㄹ is ㄹㄹ
        if final in ("ㅁ", "ㅇ"):
            second[0] = "ㄴ"
        elif final in ("ㄱ", "ㅂ"):
            first[2], second[0] = _NASAL[final], "ㄴ"
        elif final == "ㄴ":
            first[2] = "ㄹ"
    elif final == "ㄹ" and onset == "ㄴ":
        second[0] = "ㄹ"
