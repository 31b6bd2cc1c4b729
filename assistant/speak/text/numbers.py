"""Numbers, arithmetic and units as a person says them, where the voice's own reading gets them wrong.

Piper reads text through espeak-ng, which already says most numbers right in each language; checked for English:
"3.5%" (three point five percent), "231,541,000,000" (two hundred thirty one billion, ...), "1st", "-5", "9:30"
(nine thirty) and "2 × 3" (two times three). Those are left alone. What it says wrong is rewritten here:

- in every language: "2*3" and "2 * 3" (Markdown cleanup would drop the star: "23") become "2 × 3", which espeak
  reads as multiplication in the voice's language; "5**2" becomes "5^2";
- in English: "1990s" (espeak: "nineteen hundred ninety z") → "nineteen nineties", "the 90s" → "the nineties";
  "9:00" ("nine zero zero") → "nine o'clock", or just "nine" before a.m./p.m.; "$20" ("dollar twenty") → "20
  dollars", likewise € and £; "5^2" and "5²" ("five two") → "5 squared", "5 to the power of 3"; "10-20" ("ten dash
  twenty") → "10 to 20"; units after a number ("50 km/h": "kay em slash aitch") → "50 kilometres per hour".
"""

from __future__ import annotations

import re

__all__ = ["arithmetic_to_spoken", "numbers_to_spoken"]

_TIMES = re.compile(r"(?<=[\d)])[ \t]*\*[ \t]*(?=[\d(])")
_POWER_STARS = re.compile(r"(?<=[\d)])[ \t]*\*\*[ \t]*(?=\d)")


def arithmetic_to_spoken(text: str) -> str:
    """Stars between numbers as arithmetic, before Markdown cleanup takes stars for emphasis (any language)."""
    return _TIMES.sub(" × ", _POWER_STARS.sub("^", text))


def numbers_to_spoken(text: str, language: str) -> str:
    """`text` with the numbers, amounts and units espeak-ng misreads in `language` written as they are said."""
    if language != "en":
        return text
    for pattern, replace in _ENGLISH:
        text = pattern.sub(replace, text)
    return text


def _decade(match: re.Match[str]) -> str:
    from num2words import num2words

    year = int(match.group(1))
    words = num2words(year, to="year") if year >= 100 else num2words(year)
    return _plural(words)


def _plural(words: str) -> str:
    """'nineteen ninety' → 'nineteen nineties', 'eighteen hundred' → 'eighteen hundreds'."""
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return f"{head} {last}".strip()


_CURRENCIES = {"$": ("dollar", "dollars"), "€": ("euro", "euros"), "£": ("pound", "pounds")}


def _amount(match: re.Match[str]) -> str:
    one, many = _CURRENCIES[match.group(1)]
    whole, cents = match.group(2), match.group(3)
    name = one if whole == "1" and not cents else many
    return f"{whole} {name}" + (f" {cents}" if cents and cents != "00" else "")


_SUPERSCRIPTS = {"²": "2", "³": "3"}


def _power(match: re.Match[str]) -> str:
    base = match.group(1) or match.group(3)
    exponent = match.group(2) or _SUPERSCRIPTS[match.group(4)]
    if exponent == "2":
        return f"{base} squared"
    if exponent == "3":
        return f"{base} cubed"
    return f"{base} to the power of {exponent}"


_UNITS = {
    "km/h": "kilometres per hour", "mph": "miles per hour", "m/s": "metres per second", "km": "kilometres",
    "cm": "centimetres", "mm": "millimetres", "kg": "kilograms", "mg": "milligrams", "g": "grams", "m": "metres",
    "mi": "miles", "ft": "feet", "lb": "pounds", "lbs": "pounds", "ml": "millilitres", "l": "litres",
    "GB": "gigabytes", "MB": "megabytes", "TB": "terabytes", "kWh": "kilowatt hours", "kW": "kilowatts",
    "°C": "degrees Celsius", "°F": "degrees Fahrenheit", "℃": "degrees Celsius", "℉": "degrees Fahrenheit",
}
_UNIT_NAMES = "|".join(re.escape(unit) for unit in sorted(_UNITS, key=len, reverse=True))

_ENGLISH: list[tuple[re.Pattern[str], object]] = [
    (re.compile(r"\b(1[0-9]\d0|20\d0)s\b"), _decade),  # 1990s, 1800s, 2020s
    (re.compile(r"(?<![\w'’])['’]?([1-9]0)s\b"), _decade),  # the 90s, the '60s
    (re.compile(r"\b(\d{1,2}):00(?=\s*[ap]\.?m\b)", re.IGNORECASE), r"\1"),  # 9:00 a.m. → 9 a.m.
    (re.compile(r"\b(\d{1,2}):00\b"), r"\1 o'clock"),
    (re.compile(r"([$€£])\s?(\d[\d,]*)(?:\.(\d\d))?\b"), _amount),
    (re.compile(r"(\d)\^(\d+)|([^\W_])([²³])"), _power),
    # A range: 10-20, 10–20 (not a date, 2024-05-01, nor a subtraction with spaces, 10 - 5).
    (re.compile(r"(?<![\d-])(\d{1,4})(?:-|[ \t]*–[ \t]*)(\d{1,4})(?![\d-])"), r"\1 to \2"),
    (re.compile(rf"(?<=\d)[ \t]?({_UNIT_NAMES})(?![\w/])"), lambda m: " " + _UNITS[m.group(1)]),
]
