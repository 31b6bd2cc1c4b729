"""Streaming sentence segmenter: chat-model token deltas in, speakable chunks out.

The chat model streams arbitrary fragments ("Dr", ". K", "im is", " here."). The voice wants whole
sentences, as early as possible. `SentenceSegmenter` buffers the fragments and hands out a chunk as soon as
its end is *certain*: every decision looks only at text that has already arrived, and waits when the
answer depends on text that hasn't (is the "." after "3" a decimal point? is "Dr." followed by a name?).
That makes the output independent of how the reply was split into deltas: streaming a reply token by
token gives exactly the chunks that feeding it in one piece and flushing gives.

Where a chunk ends:
  * after . ! ? … (Western enders, runs like "?!" or "..." count as one) once whitespace and the next
    non-space character have arrived — unless that context says the sentence goes on (abbreviation,
    initial, decimal, URL, list marker, lowercase continuation);
  * after 。！？．｡ (CJK enders) once one more character has arrived, since CJK puts no space after them;
  * after a newline (a markdown list item, heading or table row is its own chunk);
  * after a whole fenced code block (never inside one, so cleanup can drop the code in one piece);
  * in the reply's first chunk only, at a clause mark (, ; : — 、，) once the chunk is long enough;
  * anywhere a run-on chunk would exceed `max_chunk_chars` (at a clause mark or space, or between CJK
    characters).
Closing quotes and brackets right after an ender stay with their sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.speak.text.cuts import find_cut, has_word_char

__all__ = ["SegmenterConfig", "SentenceSegmenter"]


@dataclass(frozen=True)
class SegmenterConfig:
    """Tuning of `SentenceSegmenter`.

    first_chunk_min_chars: the reply's first chunk may end at a clause mark (, ; : — 、，) once it is at
        least this long, so the voice can start before the first sentence is complete.
    max_chunk_chars: run-on text is split before it gets longer than this: at the last clause mark or
        space before the limit, CJK text between any two characters. Exceptions, all unspoken: a fenced
        code block stays whole, a run of enders and closing marks that straddles the limit stays with
        its sentence, and punctuation-only lines in front of a chunk don't count towards a split.
    min_chunk_chars: a chunk shorter than this, or with no letter or digit, is never emitted on its own:
        it is merged into the next chunk. At flush, what is left is emitted if it has a letter or digit
        (whatever its length) and dropped otherwise (a trailing ":)" or emoji).
    """

    first_chunk_min_chars: int = 12
    max_chunk_chars: int = 220
    min_chunk_chars: int = 2

    def __post_init__(self) -> None:
        if self.max_chunk_chars < 2 or self.min_chunk_chars < 1 or self.first_chunk_min_chars < 1:
            raise ValueError(f"invalid SegmenterConfig: {self}")


class SentenceSegmenter:
    """Turns a stream of text deltas into speakable chunks (stripped strings), one reply at a time.

    Feed every delta to `push`, call `flush` when the reply is complete, then the segmenter is ready for
    the next reply (or call `reset` to abandon one midway).
    """

    def __init__(self, config: SegmenterConfig = SegmenterConfig()) -> None:
        self._config = config
        self.reset()

    @property
    def config(self) -> SegmenterConfig:
        """The configuration this segmenter was made with."""
        return self._config

    def reset(self) -> None:
        """Forget everything buffered; the next `push` starts a new reply."""
        self._buf = ""
        # Whether the buffer starts at the beginning of a line (list markers and code fences need it).
        self._bol = True
        self._emitted_any = False
        # No chunk can end before the first letter or digit; knowing there is none spares rescanning a
        # growing run of emoji or punctuation on every push.
        self._buf_has_words = False

    def push(self, delta: str) -> list[str]:
        """Feed one delta of the reply; returns the chunks that are now complete (often none)."""
        if not delta:
            return []
        self._buf += delta
        self._buf_has_words = self._buf_has_words or has_word_char(delta)
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """End of the reply: returns the remaining chunks (the last one is whatever is left, stripped,
        if it has a letter or digit), and resets the segmenter for the next reply."""
        chunks = self._drain(final=True)
        rest = self._buf.strip()
        if has_word_char(rest):
            chunks.append(rest)
        self.reset()
        return chunks

    def _drain(self, *, final: bool) -> list[str]:
        chunks: list[str] = []
        while self._buf_has_words:
            cut = find_cut(
                self._buf, bol=self._bol, allow_clause=not self._emitted_any, final=final, config=self._config
            )
            if cut is None:
                return chunks
            chunks.append(self._buf[:cut].strip())
            self._bol = self._buf[cut - 1] == "\n"
            self._buf = self._buf[cut:]
            self._buf_has_words = has_word_char(self._buf)
            self._emitted_any = True
        return chunks
