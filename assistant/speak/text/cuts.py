"""Where a chunk of a streamed reply can end, for `segmenter.SentenceSegmenter`: the character classes (enders,
closers, clause marks, abbreviations) and the rules that find the next cut, certain of it from the text already
arrived or waiting for more (the rules themselves: segmenter.py's docstring)."""

from __future__ import annotations

import re
import unicodedata
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.speak.text.segmenter import SegmenterConfig


# --- Character classes --------------------------------------------------------------------------------

# Enders written before a space: Latin, Cyrillic and Greek ones, the Devanagari danda (Hindi "।", "॥"), the Arabic
# question mark "؟" and the Urdu full stop "۔".
_WESTERN_ENDERS = frozenset(".!?…।॥؟۔")
# The fullwidth full stop doubles as a decimal point in fullwidth numbers ("３．１４"); see _ender_verdict.
_CJK_ENDERS = frozenset("。！？．｡")
_ENDERS = _WESTERN_ENDERS | _CJK_ENDERS
# Closers stay with the sentence they close. Markdown emphasis marks count: "**Done.** Next".
_CLOSERS = frozenset("\"'”’»›)]}」』）］｝】〕〗〙〛〉》*_")
_OPENERS = "\"'“‘«‹([{「『（［｛【〔〖〘〚〈《*_¿¡"
# Western clause marks only count before whitespace ("1,000", "10:30", "well—no" aren't clauses).
_WESTERN_CLAUSE = frozenset(",;:—–،؛")  # (with the Arabic comma and semicolon)
_CJK_CLAUSE = frozenset("、，；：")

# Words that a following "." never ends a sentence after ("Dr. Kim", "e.g. Python"): titles and the like in English,
# Spanish, German, French, Italian and Russian.
_ALWAYS_ABBREVIATIONS = frozenset({
    "dr", "mr", "mrs", "ms", "prof", "st", "vs", "e.g", "i.e", "mt", "ft", "hon", "fr", "gen", "sen", "capt", "rev",
    "lt", "col", "sgt", "gov", "pres", "jr", "sr", "sra", "srta", "dra", "sres", "ud", "uds", "hr", "hrn", "ca",
    "bzw", "vgl", "evtl", "ggf", "inkl", "mme", "mlle", "mm", "dott", "sig", "ing", "avv", "ул", "г", "гг", "им",
    "пр", "проф", "тов",
})
# ... only before a number ("No. 5", "Fig. 3", "Nr. 5", "S. 12"): "No. I won't." is a sentence.
_NUMBER_ABBREVIATIONS = frozenset({"no", "nos", "fig", "vol", "pp", "nr", "art", "abs", "núm", "№"})
# Months that a German ordinal date writes after a number and a dot: "am 3. Juli" goes on.
_MONTHS_AFTER_ORDINALS = frozenset({
    "januar", "jänner", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober",
    "november", "dezember",
})
# Dotted abbreviations that often end a sentence: "at 5 p.m. Then" ends, "at 5 p.m. today" doesn't.
_SENTENCE_FINAL_ACRONYMS = frozenset({"a.m", "p.m"})
_DOTTED_ACRONYM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # "U.S", "U.S.A" (the word before its last ".")

# Any indentation: models indent fences inside list items ("1. Install:\n    ```bash").
_FENCE_OPEN = re.compile(r"[ \t]*(`{3,}|~{3,})")


def _is_cjk(ch: str) -> bool:
    """Han, kana, CJK punctuation and fullwidth forms: scripts written without spaces between words.
    (Hangul is left out: Korean puts spaces between words and after sentence enders.)"""
    cp = ord(ch)
    return (
        0x3000 <= cp <= 0x30FF  # CJK symbols and punctuation, hiragana, katakana
        or 0x31F0 <= cp <= 0x31FF  # katakana phonetic extensions
        or 0x3400 <= cp <= 0x4DBF  # Han extension A
        or 0x4E00 <= cp <= 0x9FFF  # Han
        or 0xF900 <= cp <= 0xFAFF  # Han compatibility
        or 0xFF00 <= cp <= 0xFFEF  # halfwidth and fullwidth forms
        or 0x20000 <= cp <= 0x3FFFF  # Han extensions B and beyond
    )


def has_word_char(text: str) -> bool:
    """Whether `text` has a letter or a digit (in any script)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def _speakable(text: str, config: SegmenterConfig) -> bool:
    stripped = text.strip()
    return len(stripped) >= config.min_chunk_chars and has_word_char(stripped)


# --- Finding the next cut ---------------------------------------------------------------------------------


class _Verdict(Enum):
    YES = "yes"  # a sentence ends here
    NO = "no"  # it goes on
    NEED = "need"  # can't tell until more text arrives


def find_cut(buf: str, *, bol: bool, allow_clause: bool, final: bool, config: SegmenterConfig) -> int | None:
    """Where the next chunk ends: it is buf[:cut]; None when no end is certain yet (or there is none).

    Scans left to right and stops at the first position it can't decide: deciding a later position first
    could give a different cut than the complete text would, and the result must not depend on how the
    reply was split into deltas. With `final`, the end of `buf` is the end of the reply.
    """
    n = len(buf)
    start = 0
    while start < n and buf[start].isspace():
        start += 1
    if start == n:
        return None
    limit = start + config.max_chunk_chars
    can_force = True  # off inside code (never spoken, so no need to split it) or with nothing to say
    at_line_start = bol
    i = 0
    while i < n:
        if i >= limit and can_force:
            cut = _forced_cut(buf, start, limit, config)
            if cut is not None:
                return cut
            can_force = False
        if at_line_start:
            at_line_start = False
            fence_end = _fence_end(buf, i)
            if fence_end is not None:
                can_force = False
                i = fence_end
                continue
        ch = buf[i]
        if ch == "\n":
            if _speakable(buf[: i + 1], config):
                return i + 1
            at_line_start = True
            i += 1
            continue
        if ch in _ENDERS:
            run_end = i
            while run_end < n and buf[run_end] in _ENDERS:
                run_end += 1
            close_end = run_end
            while close_end < n and buf[close_end] in _CLOSERS:
                close_end += 1
            verdict = _ender_verdict(buf, i, run_end, close_end, bol=bol, final=final)
            if verdict is _Verdict.NEED:
                return None
            if verdict is _Verdict.YES and _speakable(buf[:close_end], config):
                return close_end
            i = run_end
            continue
        if allow_clause and i + 1 - start >= config.first_chunk_min_chars:
            verdict = _clause_verdict(buf, i, final=final)
            if verdict is _Verdict.NEED:
                return None
            if verdict is _Verdict.YES and _speakable(buf[: i + 1], config):
                return i + 1
        i += 1
    return None


def _clause_verdict(buf: str, i: int, *, final: bool) -> _Verdict:
    """May the reply's first chunk end after buf[i], at a clause mark?"""
    ch = buf[i]
    if ch in _CJK_CLAUSE:
        return _Verdict.YES
    if ch not in _WESTERN_CLAUSE:
        return _Verdict.NO
    if i + 1 == len(buf):
        return _Verdict.YES if final else _Verdict.NEED
    return _Verdict.YES if buf[i + 1].isspace() else _Verdict.NO


def _ender_verdict(buf: str, run_start: int, run_end: int, close_end: int, *, bol: bool, final: bool) -> _Verdict:
    """Does the run of enders buf[run_start:run_end] (closers up to close_end) end a sentence?"""
    n = len(buf)
    run = buf[run_start:run_end]
    if close_end >= n:
        # Might still be followed by more enders, closers, a digit or a letter.
        return _Verdict.YES if final else _Verdict.NEED
    if any(ch in _CJK_ENDERS for ch in run):
        # "３．１４": a fullwidth full stop between digits is a decimal point.
        if run == "．" and close_end == run_end and buf[close_end].isdigit():
            return _Verdict.NO
        return _Verdict.YES
    after = buf[close_end]
    if not after.isspace():
        # "3.14", "example.com", "e.g.,", "wait…what" go on; CJK writes no space after a sentence.
        return _Verdict.YES if _is_cjk(after) else _Verdict.NO
    nxt = close_end
    while nxt < n and buf[nxt].isspace():
        nxt += 1
    if "\n" in buf[close_end:nxt]:
        return _Verdict.YES
    if nxt >= n:
        return _Verdict.YES if final else _Verdict.NEED
    word_start = buf[nxt]
    is_ellipsis = ("…" in run or run.count(".") >= 2) and "!" not in run and "?" not in run
    if is_ellipsis and word_start == "I":
        # "Well... I think" hesitates within a sentence; "Well... It" starts a new one.
        if nxt + 1 >= n and not final:
            return _Verdict.NEED
        if nxt + 1 >= n or not buf[nxt + 1].isalpha():
            return _Verdict.NO
    if word_start.islower():
        # Sentences start with a capital (or an uncased script); "etc. and", "p.m. today" go on.
        return _Verdict.NO
    if run == ".":
        verdict = _verdict_on_the_next_word(buf, run_start, nxt, final=final)
        if verdict is not None:
            return verdict
        if _is_abbreviation(buf, run_start, word_start, bol=bol):
            return _Verdict.NO
    return _Verdict.YES


def _verdict_on_the_next_word(buf: str, dot: int, nxt: int, *, final: bool) -> _Verdict | None:
    """After a day number ("am 3. Juli") or "a.m."/"p.m." ("9 a.m. PST tomorrow") the whole next word decides:
    a month name, or a time zone's capitals, go on. None: the next word does not matter here."""
    before = _word_before(buf, dot)
    ordinal = before.isdigit() and len(before) <= 2
    clock = before.lower() in _SENTENCE_FINAL_ACRONYMS
    if not ordinal and not clock:
        return None
    end = nxt
    while end < len(buf) and buf[end].isalpha():
        end += 1
    word = buf[nxt:end]
    if end == len(buf) and not final:  # the word may go on: wait if it still can become one that goes on
        could_be_month = ordinal and any(month.startswith(word.lower()) for month in _MONTHS_AFTER_ORDINALS)
        could_be_zone = clock and len(word) < 5 and word.isupper()
        return _Verdict.NEED if could_be_month or could_be_zone else None
    if ordinal and word.lower() in _MONTHS_AFTER_ORDINALS:
        return _Verdict.NO
    if clock and 2 <= len(word) <= 5 and word.isupper():
        return _Verdict.NO
    return None


def _word_before(buf: str, dot: int) -> str:
    """The word that the "." at `dot` follows, without opening quotes or brackets."""
    word_start = dot
    while word_start > 0 and not buf[word_start - 1].isspace():
        word_start -= 1
    return buf[word_start:dot].lstrip(_OPENERS)


def _is_abbreviation(buf: str, dot: int, next_char: str, *, bol: bool) -> bool:
    """Is the word before the "." at `dot` an abbreviation, initial or list number that a capitalized
    word may follow without a new sentence starting?"""
    word_start = dot
    while word_start > 0 and not buf[word_start - 1].isspace():
        word_start -= 1
    word = _word_before(buf, dot)
    lower = word.lower()
    if lower in _ALWAYS_ABBREVIATIONS:
        return True
    if lower in _NUMBER_ABBREVIATIONS:
        return next_char.isdigit()
    if len(word) == 1 and word.isupper() and word != "I":  # "J. R. R. Tolkien" (but "So do I. Then")
        return True
    if len(word) == 1 and word.islower():  # "z. B.", "d. h.", "т. е." (a lowercase letter alone is no sentence's end)
        return True
    if _DOTTED_ACRONYM.fullmatch(word):  # "U.S. Army"
        return lower not in _SENTENCE_FINAL_ACRONYMS
    if word.isdigit() and len(word) <= 3:  # "1. First", but only as a list marker
        return _at_line_start(buf, word_start, bol=bol)
    return False


def _at_line_start(buf: str, pos: int, *, bol: bool) -> bool:
    line_start = buf.rfind("\n", 0, pos) + 1
    if line_start == 0 and not bol:
        return False
    return buf[line_start:pos].strip(" \t") == ""


def _fence_end(buf: str, i: int) -> int | None:
    """If a fenced code block opens at line start `i`: where its closing fence line ends (before the
    newline). None if no fence opens there.

    A block still open runs to the end of `buf`. That needs no waiting: nothing after an open block can be
    cut yet, and the next push scans it again.
    """
    opening = _FENCE_OPEN.match(buf, i)
    if opening is None:
        return None
    fence = opening.group(1)
    line_end = buf.find("\n", opening.end())
    if line_end == -1:
        return len(buf)
    if fence[0] == "`" and "`" in buf[opening.end() : line_end]:
        return None  # "```x``` is code" on one line is inline code, not a block
    # A closing fence is a line of at least as many of the same character, and nothing else.
    closing = re.compile(r"\n[ \t]*" + re.escape(fence[0]) + r"{%d,}[ \t]*(?=\n|\Z)" % len(fence))
    match = closing.search(buf, line_end)
    return len(buf) if match is None else match.end()


def _forced_cut(buf: str, start: int, limit: int, config: SegmenterConfig) -> int | None:
    """Where to split a run-on chunk buf[start:] that has no sentence end before `limit` (< len(buf)).

    Prefers the last clause mark in the second half of the window (a natural pause), then the last space
    or CJK character boundary, then a hard cut at the limit. None if nothing before the limit is speakable.
    """
    clause = space = cjk = None
    for p in range(limit, start, -1):
        ch, prev = buf[p], buf[p - 1]
        if clause is None and (prev in _CJK_CLAUSE or (prev in _WESTERN_CLAUSE and ch.isspace())):
            clause = p
        if space is None and ch.isspace() and not prev.isspace():
            space = p
        if cjk is None and (_is_cjk(prev) or _is_cjk(ch)) and unicodedata.category(ch)[0] != "M":
            cjk = p
    candidates = []
    if clause is not None and clause - start >= config.max_chunk_chars // 2:
        candidates.append(clause)
    word_boundaries = [p for p in (space, cjk, clause) if p is not None]
    if word_boundaries:
        candidates.append(max(word_boundaries))
    hard = limit
    while hard > start + 1 and unicodedata.category(buf[hard])[0] == "M":  # don't split off an accent
        hard -= 1
    candidates.append(hard)
    for cut in candidates:
        if _speakable(buf[:cut], config):
            return cut
    return None
