"""When a hands-free turn is over: the end-of-turn policy.

"fixed": a fixed stretch of silence after the last voiced frame ends the turn (500 ms by default). Quick people wait
for it on every turn; people who pause to think are cut off by it.

"smart": Smart Turn (assistant/listen/smart_turn.py) hears the turn so far at short silences and says whether it
sounds finished. The first question comes at 160 ms of silence (its verdicts there were as at 224 ms on the test
questions; Pipecat asks at 200 ms): if the answer is "complete" the turn ends there; if
not, Parley keeps listening and asks once more at ~500 ms (an ending that was unclear at first, "What is two plus
two?" at 0.71 after 200 ms and 0.99 after 600 ms), and `patience_ms` of silence ends the turn whatever the model
says. Pipecat asks once, then waits 3 s.

The model hears sound, not words, and a voice that stops abruptly mid-sentence can sound finished to it ("What's the
weather like in" spoken as part of a question, then silence: 0.79). So when the words so far are known (the early
transcript, which the reply needs anyway, so waiting for it costs nothing), a turn whose last word cannot end an
English sentence ("in", "the", "and", ...) is not over whatever the model says: the silence limit decides.

The endpointer (assistant/listen/endpointing.py) counts the silence: this module gives it the points at which to report a
pause (`endpoint_config`), and `EndOfTurn` answers "is it over?" for the listening thread, running the model on a
thread of its own so that the listening thread keeps up with the microphone (a decision takes ~30-70 ms of CPU).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import re
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from assistant.listen.endpointing import EndpointConfig

log = logging.getLogger(__name__)

MODES = ("smart", "fixed")

# Words an English sentence never ends on, question or not: articles, possessives that need a noun, conjunctions and
# fillers. (Not "on", "this", "can", "so": "Turn the lights on.", "I like this.", "Yes, I can.", "I think so.")
_NEVER_LAST = frozenset("""
a an the my your our their and or but nor than because if although though unless whether um uh er erm
""".split())
# Prepositions: a statement seldom ends on one, a question may ("What are you looking at?", "Where are you from?").
_PREPOSITIONS = frozenset("""
of in at to for from with about by into onto between during like as
""".split())


def sounds_unfinished(text: str, language: str) -> bool:
    """The words end where an English sentence cannot: "What's the weather like in...". A question as Whisper
    punctuates it may end on a preposition ("What are you looking at?"), but not on two ("What's the weather like
    in?": faster-whisper puts that question mark on the half question, where MLX did not), nor on an article or a
    conjunction. Whisper ends words that trail off with an ellipsis, in any language ("What's the weather I
    can...", its reading of a question paused after "like in"). (Other languages: only the ellipsis.)"""
    if text.rstrip().endswith(("...", "…")):
        return True
    if language not in ("en", ""):
        return False
    words = re.findall(r"[a-z']+", text.lower())
    if not words:
        return False
    if words[-1] in _NEVER_LAST:
        return True
    if text.rstrip().endswith(("?", "!")):
        return (len(words) > 1 and words[-1] in _PREPOSITIONS and words[-2] in _PREPOSITIONS) or _two_glued(words[-1])
    return words[-1] in _PREPOSITIONS


def _two_glued(word: str) -> bool:
    """Two prepositions Whisper wrote as one word: "What's the weather likein?" (tiny.en, now and then)."""
    if word in _PREPOSITIONS or word == "within":  # (real words made of two: "into", "onto", "within")
        return False
    return any(word[:cut] in _PREPOSITIONS and word[cut:] in _PREPOSITIONS for cut in range(2, len(word) - 1))


@dataclass(frozen=True)
class EndOfTurnConfig:
    """The policy and its timings (silences after the last voiced frame, in ms)."""

    mode: str = "smart"
    # "fixed": this much silence ends the turn.
    fixed_silence_ms: int = 500
    # "smart": when the model is asked (the first as soon as the endpointer keeps its trailing silence)... Not later:
    # a long enough silence sounds finished to it ("I want to know about the" + 1.2 s of silence: 0.98).
    ask_at_ms: tuple[int, ...] = (160, 480)
    # ...and the silence that ends the turn whatever it says.
    patience_ms: int = 2500
    # P(complete) at or above which the turn ends.
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"end of turn must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not self.ask_at_ms or list(self.ask_at_ms) != sorted(set(self.ask_at_ms)) or self.ask_at_ms[0] >= self.patience_ms:
            raise ValueError(f"ask_at_ms must rise, from below patience_ms: {self}")

    def endpoint_config(self, base: EndpointConfig, early_transcript_ms: int) -> EndpointConfig:
        """`base` with this policy's end of silence and pause points.

        "fixed" keeps one pause, `early_transcript_ms` (transcription starts there, in case the pause is the end),
        when the fixed silence is long enough for it to pay; "smart" pauses where the model is asked (the first of
        them is where transcription starts)."""
        if self.mode == "fixed":
            pause = early_transcript_ms if self.fixed_silence_ms > early_transcript_ms + 100 else 0
            return dataclasses.replace(base, end_silence_ms=self.fixed_silence_ms, pause_ms=pause, pause_again_ms=())
        asks = [ms for ms in self.ask_at_ms if ms < self.patience_ms]
        # The utterance keeps no more trailing silence than the first question comes after, so that the words
        # transcribed there are exactly the turn's if it ends.
        return dataclasses.replace(base, end_silence_ms=self.patience_ms, pause_ms=asks[0], pause_again_ms=tuple(asks[1:]),
                                   keep_trailing_ms=min(base.keep_trailing_ms, asks[0]))


class EndOfTurn:
    """Whether the turn the endpointer holds is over, before its silence limit. Used by the listening thread only.

    `model` is the Smart Turn model (None: the fixed policy); `submit(fn, *args)` runs a call on the model's own
    thread and returns its Future (a `JobThread`'s submit)."""

    def __init__(self, config: EndOfTurnConfig, model=None, submit: Callable[..., Future] | None = None) -> None:
        self.config = config
        self._model = model
        self._submit = submit
        # (last voiced frame, silence ms asked at, verdict, transcript so far or None, words required)
        self._pending: list[tuple[int, int, Future, Future | None]] = []
        self.decisions: collections.deque[tuple[int, float]] = collections.deque(maxlen=16)  # (silence ms, P)

    @property
    def smart(self) -> bool:
        return self.config.mode == "smart" and self._model is not None and self._submit is not None

    def ask(self, audio: np.ndarray, last_voiced_frame: int, silence_ms: float, transcript: Future | None = None,
            words_required: bool = False) -> None:
        """A pause in the turn (a PAUSE event): the model hears the turn so far, its silence included, on its own
        thread. `last_voiced_frame` names the silence: the verdict counts only while no speech has followed.
        `transcript`: the words so far, being transcribed (a Future of a Transcript), when they will be known;
        `words_required`: a turn with no words in it is not over (the wake phrase said alone, before the question)."""
        if not self.smart or any(entry[0] == last_voiced_frame for entry in self._pending):
            return  # (a question about this silence is still out: its answer comes first)
        verdict = self._submit(self._model.probability, audio)
        self._pending.append((last_voiced_frame, int(silence_ms), verdict, transcript, words_required))

    def over(self, last_voiced_frame: int) -> bool:
        """True once the model has called the turn that has been silent since `last_voiced_frame` complete.
        Verdicts on the turn before it went on (an earlier last voiced frame) are dropped."""
        over = False
        for entry in list(self._pending):
            voiced, silence_ms, verdict, transcript, required = entry
            if voiced != last_voiced_frame:
                self._pending.remove(entry)  # the user went on: that question is moot
                continue
            if not verdict.done() or (transcript is not None and not transcript.done()):
                continue
            self._pending.remove(entry)
            try:
                probability = verdict.result()
            except Exception:  # a model that fails leaves the silence limit to end the turn
                log.exception("the end-of-turn model failed")
                continue
            words = _text(transcript)
            # (With words required, none yet, e.g. the wake phrase alone: nothing has been asked, nothing is finished.)
            unfinished = words is not None and ((required and not words[0].strip())
                                                or sounds_unfinished(words[0], words[1]))
            self.decisions.append((silence_ms, probability))
            log.debug("end of turn at %d ms of silence: P(complete) %.3f%s", silence_ms, probability,
                      " (but the words go on)" if unfinished else "")
            over = over or (probability >= self.config.threshold and not unfinished)
        return over

    def forget(self) -> None:
        """The turn ended (or was dropped): questions still out about it are moot."""
        self._pending.clear()


def _text(transcript: Future | None) -> tuple[str, str] | None:
    """(text, language) of a finished transcription; None without one, or when it failed."""
    if transcript is None or transcript.cancelled() or transcript.exception() is not None:
        return None
    result = transcript.result()
    return result.text, result.language
