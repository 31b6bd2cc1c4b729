"""Arithmetic and amounts as people say them, turned into what the tools read: "seventeen times twenty three" →
"17*23", "17 곱하기 23" → "17*23", "十七乘以二十三" → "17*23", "five" → 5. Only what is unmistakably a sum passes."""

from __future__ import annotations

import re
import unicodedata

_EN_NUMBERS = {word: n for n, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_EN_NUMBERS.update({word: 10 * n for n, word in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)})
_EN_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}

# Operator words, longest first within each language, and what they become.
_OPERATORS = [
    (r"\bto the power of\b|\bto the\b|\braised to\b", "**"), (r"\bmultiplied by\b|\btimes\b|\bx\b", "*"),
    (r"\bdivided by\b|\bover\b", "/"), (r"\bplus\b|\band\b", "+"), (r"\bminus\b|\btake away\b", "-"),
    (r"\bsquared\b", "**2"), (r"\bcubed\b", "**3"), (r"\bpercent of\b", "% *"), (r"\bpercent\b", "%"),
    (r"\bmod(ulo)?\b", "%"),
    (r"더하기|플러스", "+"), (r"빼기|마이너스", "-"), (r"곱하기|곱해기|곱", "*"), (r"나누기", "/"),
    (r"의\s*(\d+)\s*제곱", r"**\1"), (r"제곱", "**2"), (r"퍼센트", "%"),
    (r"乘以|乘", "*"), (r"除以", "/"), (r"加上|加", "+"), (r"减去|减", "-"), (r"的(\d+)次方", r"**\1"),
    (r"的平方", "**2"), (r"百分之(\d+(?:\.\d+)?)", r"\1%"),
]
_SQRT = re.compile(r"(?:the )?square root of\s*(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*의\s*제곱근|(\d+(?:\.\d+)?)的平方根")
_ARITHMETIC = re.compile(r"[\d\s.+\-*/()%,]+|.*sqrt\(.*")


def english_number_words(text: str) -> str:
    """`text` with runs of English number words turned into digits ("twenty three" → "23")."""
    out: list[str] = []
    total = current = None

    def flush() -> None:
        nonlocal total, current
        if total is not None or current is not None:
            value = (total or 0) + (current or 0)
            out.append(str(int(value)) if float(value).is_integer() else str(value))
        total = current = None

    for word in re.findall(r"[\w.]+|[^\w\s]", text.lower().replace("-", " ")):
        if word in _EN_NUMBERS:
            current = (current or 0) + _EN_NUMBERS[word]
        elif word in _EN_SCALES and (current is not None or total is not None):
            scaled = (current or 1) * _EN_SCALES[word]
            total, current = ((total or 0) + scaled, None) if _EN_SCALES[word] >= 1000 else (total, scaled)
        else:
            flush()
            out.append(word)
    flush()
    return " ".join(out)


def with_digits(text: str, language: str) -> str:
    """`text` with its number words as digits (English words, Chinese numerals), full-width forms made plain."""
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", unicodedata.normalize("NFKC", text))
    if language == "zh" or re.search(r"[\u4e00-\u9fff]", text):
        import cn2an

        try:
            text = cn2an.transform(text, "cn2an")
        except (ValueError, KeyError):
            pass
    if language == "en" or text.isascii():
        text = english_number_words(text)
    return text


def arithmetic(said: str, language: str) -> str | None:
    """The expression a spoken sum stands for ("17 times 23" → "17*23"), or None when `said` is not one (a
    question that merely starts like a sum: "what is the capital of France")."""
    text = with_digits(said, language).strip().rstrip("?？。.!！=")
    text = _SQRT.sub(lambda m: f"sqrt({next(g for g in m.groups() if g)})", text)
    for pattern, symbol in _OPERATORS:
        text = re.sub(pattern, symbol, text)
    text = text.strip()
    if not re.search(r"\d", text) or not re.search(r"[-+*/%]|sqrt", text) or not _ARITHMETIC.fullmatch(text):
        return None
    if re.fullmatch(r"\s*-?\s*\d+(\.\d+)?\s*", text):
        return None
    return text


def quantity(said: str, language: str) -> tuple[float | None, str]:
    """An amount and its unit as said ("5 miles", "a pound", "五公里", "5마일") → (5.0, "miles"); (None, said)
    when it does not start with a number."""
    text = with_digits(said, language).strip()
    found = re.match(r"(-?\d+(?:\.\d+)?)\s*(.+)$", text) or re.match(r"(an?|one)\s+(.+)$", text, re.IGNORECASE)
    if found is None:
        return None, said
    number = found.group(1)
    return (1.0 if not number[-1].isdigit() else float(number)), found.group(2).strip()


def amount(said: str, language: str) -> float | None:
    """The number `said` stands for ("5", "five", "2.5", "五"), or None."""
    text = with_digits(said, language).strip()
    try:
        return float(text)
    except ValueError:
        return None
