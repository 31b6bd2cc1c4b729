"""Parley's own voice heard back: what the microphone heard during a reply, or just after it, that is mostly the
reply's own words is its echo (the canceller leaks while it adapts, more so on a busy machine), not the user."""

from __future__ import annotations

import difflib

# Speech that begins this soon after a reply played out and is mostly its words is its echo, not the user.
OWN_ECHO_TAIL_S = 1.5


def mostly_own_words(heard: str, spoken: str) -> bool:
    """True when `heard` is mostly `spoken` said back: at least 80% of its words of four or more characters are
    words of `spoken` (short words such as "what", "is", "the" are in almost any reply), or at least 80% of all its
    words match `spoken` in order (a leak that Whisper heard slightly wrong). A person asking about what the reply
    said uses its words but not all of them, nor in its order: "What is the largest ocean?" after "The largest ocean
    on Earth is the Pacific Ocean." is a question (2 of 3 long words, 3 of 5 in order), not the reply's echo."""
    heard_words = _word_list(heard)
    spoken_words = _word_list(spoken)
    if not heard_words or not spoken_words:
        return False
    reply_words = set(spoken_words)
    telling = [word for word in heard_words if len(word) >= 4] or heard_words
    if sum(word in reply_words for word in telling) >= 0.8 * len(telling):
        return True
    matcher = difflib.SequenceMatcher(None, heard_words, spoken_words, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) >= 0.8 * len(heard_words)


def _word_list(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.lower()).split()
