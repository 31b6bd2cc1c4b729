"""Spoken-text cleanup: what the voice should say for one chunk of a chat reply.

Chat models write markdown, links and emoji; a voice reading those aloud says "asterisk asterisk" or
"https colon slash slash". `to_spoken` keeps the words and drops the markup, in any script: Hangul,
Han, kana and accented Latin pass through untouched.
"""

from __future__ import annotations

import html
import re
import unicodedata

from assistant.speak.text.numbers import arithmetic_to_spoken, numbers_to_spoken

__all__ = ["to_spoken"]


def to_spoken(text: str, language: str = "en") -> str:
    """What the voice should say for `text` (one chunk, possibly several lines) in `language` (the voice's, an
    ISO 639-1 code); "" if nothing speakable.

    Drops fenced code blocks, markdown markup (emphasis, inline-code backticks, headings, list markers,
    blockquotes, table pipes, rules), link targets, emoji and pictographs; shortens bare URLs to their
    domain; squashes repeated punctuation ("!!!" → "!", "...." → "..."); says "&" between English words as "and"; collapses whitespace.
    HTML entities ("&amp;", "&nbsp;") become their characters; stars between numbers are arithmetic, not emphasis;
    numbers, amounts and units the voice misreads are written out (numbers.py).
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _FENCED_BLOCK.sub("\n", text)
    text = _INLINE_CODE.sub(lambda m: m.group(2).strip(), text)
    text = _HTML_TAG.sub(" ", text)
    text = html.unescape(text)
    text = arithmetic_to_spoken(text)
    text = _links_to_text(text)
    text = _URL.sub(_url_to_domain, text)
    text = "\n".join(_strip_line_markup(line) for line in text.split("\n"))
    text = _strip_emphasis(text)
    text = _AMPERSAND.sub(" and ", text)
    text = _remove_pictographs(text)
    text = numbers_to_spoken(text, language)
    text = _squash_punctuation(text)
    text = _tidy_spacing(text)
    return text if any(unicodedata.category(ch)[0] in "LN" for ch in text) else ""


# --- Code, tags, links and URLs ------------------------------------------------------------------------

# An opening fence line up to its closing fence, or to the end of the text if the chunk has none.
# (A backtick fence line has no other backticks: "```x``` is" is inline code.)
_FENCED_BLOCK = re.compile(
    r"^[ \t]*(`{3,}(?=[^`\n]*$)|~{3,})[^\n]*(?:\n.*?)??(?:\n[ \t]*\1[`~]*[ \t]*(?=\n|\Z)|\Z)",
    re.MULTILINE | re.DOTALL,
)
_INLINE_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
# Only tags models actually emit ("<br>" in tables); a generic pattern would eat "x<y and y>z".
_HTML_TAG = re.compile(
    r"</?(?:br|p|b|i|u|s|em|strong|del|ins|sub|sup|span|div|code|kbd|mark|small|hr)\b[^<>]*/?>", re.IGNORECASE
)

_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(\s*<?[^)\s>]*>?(?:\s+[\"'(][^\"')]*[\"')])?\s*\)")
_REFERENCE_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_FOOTNOTE = re.compile(r"\[\^[^\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^>\s]+|mailto:[^>\s]+|[^>\s@]+@[^>\s@]+\.[^>\s@]+)>", re.IGNORECASE)
_MAILTO = re.compile(r"\bmailto:", re.IGNORECASE)

# With a scheme or "www.", or a bare domain followed by a path ("example.com/docs"): "report.pdf" and
# "a@b.org" don't match.
_URL = re.compile(
    r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"'`]+"
    r"|(?<![@\w.-])(?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d+)?/[^\s<>\"'`]*",
    re.IGNORECASE,
)
_URL_TRAILING = ".,;:!?)]}'\"。、，！？"


def _links_to_text(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REFERENCE_LINK.sub(r"\1", text)
    text = _FOOTNOTE.sub("", text)
    text = _AUTOLINK.sub(r"\1", text)
    return _MAILTO.sub("", text)


def _url_to_domain(match: re.Match[str]) -> str:
    url = match.group(0)
    # Sentence punctuation after a URL belongs to the sentence.
    stripped = url.rstrip(_URL_TRAILING)
    trailing = url[len(stripped) :]
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", stripped, flags=re.IGNORECASE)
    host = re.split(r"[/?#]", host, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0]  # user:password@host:port
    if host.lower().startswith("www."):
        host = host[4:]
    return host + trailing


# --- Line markup: headings, quotes, lists, tables, rules ---------------------------------------------

_RULE = re.compile(r"[ \t]{0,3}([-*_=])(?:[ \t]*\1){2,}[ \t]*")
_BLOCKQUOTE = re.compile(r"^[ \t]{0,3}(?:>[ \t]?)+")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t]+|$)")
_HEADING_CLOSE = re.compile(r"[ \t]+#+[ \t]*$")
_LIST_MARKER = re.compile(r"^[ \t]*(?:[-*+•‣◦▪▫●○■□]|\d{1,3}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?")
_TABLE_SEPARATOR = re.compile(r"[\s|:\-]*")


def _strip_line_markup(line: str) -> str:
    if _RULE.fullmatch(line):
        return ""
    if "|" in line and "-" in line and _TABLE_SEPARATOR.fullmatch(line):
        return ""
    line = _BLOCKQUOTE.sub("", line)
    heading = _HEADING.match(line)
    if heading:
        line = _HEADING_CLOSE.sub("", line[heading.end() :])
    line = _LIST_MARKER.sub("", line)
    row = line.strip()
    if row.startswith("|") and row.count("|") >= 2:
        cells = (cell.strip() for cell in row.strip("|").split("|"))
        line = ", ".join(cell for cell in cells if cell)
    return line.replace("|", " ")


# --- Emphasis ---------------------------------------------------------------------------------------------

_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_ITALIC_UNDERSCORE = re.compile(r"(?<!\w)_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)")
# Unpaired marks left when the segmenter split an emphasized span across chunks. Underscores inside a
# word ("snake_case") are kept.
_STRAY_MARKS = re.compile(r"\*+|~~+|`+|(?<!\w)_+|_+(?!\w)")


def _strip_emphasis(text: str) -> str:
    text = _BOLD.sub(r"\2", text)
    text = _STRIKE.sub(r"\1", text)
    text = _ITALIC_STAR.sub(r"\1", text)
    text = _ITALIC_UNDERSCORE.sub(r"\1", text)
    return _STRAY_MARKS.sub("", text)


# --- Symbols and punctuation -----------------------------------------------------------------------------

_AMPERSAND = re.compile(r"(?<=[A-Za-z0-9])[ \t]*&[ \t]*(?=[A-Za-z0-9])")

# Symbols a voice can say ("25°C", "© 2024"); every other "So" character is a pictograph to drop.
_SAYABLE_SYMBOLS = frozenset("°℃℉©®™№")


def _is_pictograph(ch: str) -> bool:
    cp = ord(ch)
    if ch in _SAYABLE_SYMBOLS:
        return False
    return (
        cp == 0x200D  # zero-width joiner (inside emoji sequences)
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors ("emoji style")
        or 0xE0100 <= cp <= 0xE01EF  # variation selectors supplement
        or 0xE0000 <= cp <= 0xE007F  # tags (subdivision flags)
        or cp == 0x20E3  # combining keycap
        or 0x1F000 <= cp <= 0x1FAFF  # emoji blocks, incl. skin tones (Sk) and regional indicators
        or cp in (0x203C, 0x2049)  # ‼ ⁉ render as emoji
        or unicodedata.category(ch) == "So"
    )


def _is_spaceless_script(ch: str) -> bool:
    cp = ord(ch)
    return 0x3000 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or 0xFF00 <= cp <= 0xFFEF or cp >= 0x20000


def _remove_pictographs(text: str) -> str:
    out: list[str] = []
    gap = False
    for ch in text:
        if _is_pictograph(ch):
            gap = True
            continue
        # "Great🎉job" must not become "Greatjob"; "很好🎉我们" needs no space.
        if (
            gap
            and out
            and unicodedata.category(out[-1])[0] in "LN"
            and unicodedata.category(ch)[0] in "LN"
            and not _is_spaceless_script(out[-1])
            and not _is_spaceless_script(ch)
        ):
            out.append(" ")
        gap = False
        out.append(ch)
    return "".join(out)


_REPEATED_MARKS = re.compile(r"[!?！？]{2,}|([,;:~、，])\1+|\.{4,}")


def _squash_punctuation(text: str) -> str:
    def squash(match: re.Match[str]) -> str:
        run = match.group(0)
        if run[0] == ".":
            return "..."  # an ellipsis stays an ellipsis
        return "".join(dict.fromkeys(run))  # "!!!" → "!", "?!?!" → "?!"

    return _REPEATED_MARKS.sub(squash, text)


_SPACE_BEFORE_PUNCTUATION = re.compile(r"(?<=\S)\s+(?=[,.!?;:。、，！？](?:\s|$))")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]|（\s*）|「\s*」|『\s*』")
_LEADING_PUNCTUATION = re.compile(r"^[\s,;:、，]+")


def _tidy_spacing(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    # Removed emoji or markup can leave "Great !" or "()" behind.
    text = _EMPTY_BRACKETS.sub("", text)
    text = _SPACE_BEFORE_PUNCTUATION.sub("", text)
    text = re.sub(r"\s+", " ", text)
    return _LEADING_PUNCTUATION.sub("", text).strip()
