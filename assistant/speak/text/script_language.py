"""The language a text is written in, where its script says it (Hangul is Korean, kana Japanese, Han without kana
Chinese, ...): how `parley say` picks the voice for text in another language, as a conversation does for a turn."""

from __future__ import annotations

import unicodedata

# Unicode character names begin with their script's name; the scripts that name one language.
_SCRIPTS = (("HANGUL", "ko"), ("HIRAGANA", "ja"), ("KATAKANA", "ja"), ("CJK", "zh"), ("CYRILLIC", "ru"),
            ("GREEK", "el"), ("ARABIC", "ar"), ("HEBREW", "he"), ("THAI", "th"), ("DEVANAGARI", "hi"))
# A Hangul syllable or Chinese character says about as much as three Latin letters: "안녕하세요, Parley!" is Korean.
_SYLLABLE_WEIGHT = 3


def language_of_script(text: str) -> str | None:
    """The language of the script most of `text` is in (a Hangul syllable or Chinese character counts as three
    letters), or None for Latin letters (many languages) or no letters. Any kana makes Chinese characters Japanese."""
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        language = next((code for script, code in _SCRIPTS if name.startswith(script)), "latin")
        counts[language] = counts.get(language, 0) + (_SYLLABLE_WEIGHT if language in ("ko", "ja", "zh") else 1)
    if counts.get("ja") and counts.get("zh"):
        counts["ja"] += counts.pop("zh")
    if not counts:
        return None
    best = max(counts, key=counts.get)
    return None if best == "latin" else best
