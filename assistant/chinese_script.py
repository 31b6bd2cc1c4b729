"""Simplified or Traditional Chinese: the script a Chinese transcript is written in and replies are asked for.

Whisper writes Mandarin in either script whatever the speaker reads ("廣州市" for a speaker of Simplified "广州市"),
so a Chinese transcript is converted to the script of the settings with OpenCC (phrase-level conversion, not
character by character: "头发" ↔ "頭髮"). The default follows the system's locale: Traditional for Taiwan, Hong
Kong and Macau (zh_TW, zh_HK, zh_MO, zh_Hant), Simplified otherwise.
"""

from __future__ import annotations

import functools
import locale
import os

SCRIPTS = ("simplified", "traditional")
NAMES = {"simplified": "Simplified Chinese characters", "traditional": "Traditional Chinese characters"}
_TRADITIONAL_LOCALES = ("zh_tw", "zh_hk", "zh_mo", "zh_hant", "zh-tw", "zh-hk", "zh-mo", "zh-hant")


def default_script() -> str:
    """The script the system's locale reads: "traditional" for zh_TW/HK/MO/Hant, "simplified" otherwise."""
    names = [os.environ.get(key, "") for key in ("LC_ALL", "LC_CTYPE", "LANG", "LANGUAGE")]
    try:
        names.append(locale.getlocale()[0] or "")
    except ValueError:  # an odd locale name
        pass
    wanted = next((name for name in names if name), "").lower()
    return "traditional" if wanted.startswith(_TRADITIONAL_LOCALES) else "simplified"


@functools.lru_cache(maxsize=2)
def _converter(script: str):
    import opencc

    return opencc.OpenCC("t2s.json" if script == "simplified" else "s2t.json")


def in_script(text: str, script: str) -> str:
    """Chinese `text` written in `script` ("simplified" or "traditional"); ValueError for another script name."""
    if script not in SCRIPTS:
        raise ValueError(f"the Chinese script must be one of {', '.join(SCRIPTS)}, not {script!r}")
    return _converter(script).convert(text) if text else text
