"""Numbers in Korean text as they are said: Kokoro reads Hangul only, and a reply says "오후 3시 30분".

Korean has two sets of numbers: native ones (하나, 둘, ...) count hours, things and age below a hundred ("3시" is
세 시, "2개" 두 개), and Sino-Korean ones (일, 이, 삼, ...) everything else ("30분" is 삼십 분, "2026년" 이천이십육 년).
"""

from __future__ import annotations

import re

_DIGITS = "영일이삼사오육칠팔구"
_SMALL_UNITS = ((1000, "천"), (100, "백"), (10, "십"))
_LARGE_UNITS = ((10**12, "조"), (10**8, "억"), (10**4, "만"))
_NATIVE_ONES = ("", "한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉")  # the forms before a counter
_NATIVE_TENS = ("", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔")
# Counters that take native numbers below a hundred (hours, things, times, years of age, cups, people, animals).
_NATIVE_COUNTERS = ("시간", "시", "개", "번", "살", "잔", "명", "마리", "권", "병", "사람")
_MONTHS = {6: "유월", 10: "시월"}  # June and October drop a consonant (육월, 십월 are not said)
_NUMBER = re.compile(r"(-?)(\d[\d,]*)(?:\.(\d+))?\s*(%|퍼센트)?\s*(" + "|".join(_NATIVE_COUNTERS) + r"|월)?")


def sino(n: int) -> str:
    """`n` (0 or more) in Sino-Korean words: 2026 → 이천이십육, 10000 → 만, 15 → 십오."""
    if n == 0:
        return "영"
    words = ""
    for value, unit in _LARGE_UNITS:
        count, n = divmod(n, value)
        if count:
            words += ("" if count == 1 and unit == "만" and not words else _below_10000(count)) + unit
    return words + _below_10000(n)


def _below_10000(n: int) -> str:
    words = ""
    for value, unit in _SMALL_UNITS:
        count, n = divmod(n, value)
        if count:
            words += ("" if count == 1 else _DIGITS[count]) + unit
    return words + (_DIGITS[n] if n else "")


def native(n: int) -> str:
    """`n` (1 to 99) in native words before a counter: 3 → 세, 20 → 스무, 21 → 스물한."""
    tens, ones = divmod(n, 10)
    if tens == 2 and not ones:
        return "스무"
    return _NATIVE_TENS[tens] + _NATIVE_ONES[ones]


def numbers_in_korean(text: str) -> str:
    """`text` with its numbers written as Korean words, native before the counters that take them."""
    def said(match: re.Match[str]) -> str:
        minus, whole, fraction, percent, counter = match.groups()
        n = int(whole.replace(",", ""))
        if counter and counter != "월" and not fraction and not percent and 0 < n < 100:
            words = f"{native(n)} {counter}"
        elif counter == "월" and not fraction and not percent:
            words = _MONTHS.get(n, f"{sino(n)} 월")
        else:
            words = sino(n)
            if fraction:
                words += " 점 " + "".join(_DIGITS[int(d)] for d in fraction)
            if percent:
                words += " 퍼센트"
            if counter:
                words += f" {counter}"
        return ("마이너스 " if minus else "") + words + " "
    return re.sub(r" +(?=[ .,!?]|$)", "", _NUMBER.sub(said, text))
