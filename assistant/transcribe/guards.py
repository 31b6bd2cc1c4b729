"""What Whisper wrote, judged the same way whichever engine decoded it (MLX or faster-whisper): its inventions for
silence and noise, and a decoder that repeats itself.

Whisper invents text for silence and noise ("Thanks for watching!", "you", subtitle credits): a transcript that is
only such a phrase is dropped, so silence gives no transcript rather than a made-up one.

Its decoder also says things twice: a whole sentence over and over ("Tell me about rain. Tell me about rain. Tell
me abou"), or once more when the speech has ended ("… as an example of fine typography, and it is worth mention
in passing that as an example of fine typography,", seen with both engines on a recording with a second of
silence after it). People repeat themselves too ("Hello? Hello?"), but not faster than they speak: a repeat is
kept only when the sound could have held every word of the text at an unhurried pace.

Pure logic on text and on the audio's loudness; `assistant.transcribe.transcriber` applies it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

# Whisper's well-known inventions on silence, noise and music, lower-cased without punctuation.
# These are never a plausible thing to say to an assistant, so they are dropped whatever the audio.
_ALWAYS_INVENTED = {
    "thanks for watching", "thank you for watching", "thank you so much for watching", "thanks for watching bye",
    "please subscribe", "like and subscribe", "dont forget to like and subscribe", "see you in the next video",
    "subtitles by the amaraorg community", "subtitles by", "transcribed by", "translated by",
    "music", "applause", "blank_audio", "silence", "no speech", "inaudible",
    "시청해주셔서 감사합니다", "구독과 좋아요 부탁드립니다", "ご視聴ありがとうございました", "チャンネル登録お願いします",
    "字幕由amaraorg社区提供", "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目", "谢谢观看", "感谢观看",
    "untertitel im auftrag des zdf", "untertitel der amaraorg-community", "sous-titres réalisés par la communauté damaraorg",
}
# Short phrases Whisper also invents, but a person may say: dropped only when Whisper itself
# doubts there was speech.
_DOUBTFUL_WHEN_UNSURE = {"you", "thank you", "thanks", "bye", "okay", "oh", "so", "uh", "um", "hmm", "the end"}
_UNSURE_NO_SPEECH_PROB = 0.3

# A text that says something twice in a row is believed only when its sound holds all its words at this pace or
# slower. Measured over the sound as `sound_seconds` counts it: 1.9-3.1 words a second in the English test
# recordings, 3.5 in the short question of tests/data, up to 4.6 in the Piper voice's short sentences; a decoder that
# said a sentence again over the silence after it gave 5.0 (LJ001-0006), one looping on a short question 7 and more.
# Dropping a repeat a person really said loses no meaning; keeping an invented one adds words nobody said.
REPEAT_WORDS_PER_S = 4.5
# A phrase said again after words of its own at the very end ("… as an example of fine typography, that has an
# example of fine typography,") is how a decoder runs on over the silence after speech, and rarely how people talk:
# believed only at a reading pace.
TAIL_REPEAT_WORDS_PER_S = 3.0
MIN_PHRASE_WORDS = 3  # shorter repeats ("no, no", "very very") are how people talk
MOST_PHRASE_WORDS = 40  # (bounds the search on long texts)
MOST_BRIDGE_WORDS = 2  # words between the two sayings: "as an example …, that has an example …"

# Sound, as `sound_seconds` counts it: 20 ms frames within QUIET_DB of the loud ones (the 95th percentile of the
# audio's frames), and above SILENT_DBFS whatever the audio.
FRAME_S = 0.02
QUIET_DB = 30.0
SILENT_DBFS = -60.0
_WORD = re.compile(r"\w+(?:['’]\w+)*")


def _normalized(text: str) -> str:
    return re.sub(r"[^\w\s-]", "", text.lower()).strip()


def is_invented(text: str, no_speech_prob: float) -> bool:
    """True when `text` is one of Whisper's inventions for silence or noise."""
    phrase = _normalized(text)
    if not phrase or phrase in _ALWAYS_INVENTED:
        return True
    return phrase in _DOUBTFUL_WHEN_UNSURE and no_speech_prob >= _UNSURE_NO_SPEECH_PROB


def repeated_sentence(text: str) -> str | None:
    """The sentence (or sentences) that `text` is nothing but repetitions of, the last one perhaps cut off;
    None when it is not. Whisper's decoder sometimes loops on a short utterance, saying it over and over:
    "Tell me about rain. Tell me about rain. Tell me abou", at times with the punctuation or the case of a
    repetition changed ("Tell me about dogs? tell me about dogs")."""
    text = text.strip()
    for end in re.finditer(r"[.!?…。！？]+\s*", text):  # repeated exactly (any script, CJK included)
        unit = text[: end.end()]
        if 2 * len(unit.rstrip()) > len(text):
            break
        if text == (unit * (len(text) // len(unit) + 1))[: len(text)]:
            return unit.strip()
    words = [(m.group().lower(), m.start()) for m in re.finditer(r"\w+", text)]  # repeated word for word
    for size in range(1, len(words) // 2 + 1):
        expected = [words[i % size][0] for i in range(len(words))]
        whole_but_last = all(word == want for (word, _), want in zip(words[:-1], expected))
        if whole_but_last and expected[-1].startswith(words[-1][0]):  # (the last one may be cut off)
            return text[: words[size][1]].strip()
    return None


@dataclass(frozen=True)
class Repeat:
    """A phrase said again right after itself, as word indices into the text."""

    first: int  # the first word of its first saying
    second: int  # the first word of its second saying
    length: int  # its words


def find_repeat(words: list[str], after: int = 0) -> Repeat | None:
    """The first phrase of MIN_PHRASE_WORDS or more (lower-case words, no punctuation) said again right after
    itself, its second saying starting at word `after` or later; the longest such phrase where several start at
    the same word. A second saying that ends the text may follow the first after up to MOST_BRIDGE_WORDS words of
    its own (a decoder running on over the silence after speech); within the text, only right after it: "turn on
    the lights in the kitchen and turn on the lights in the hall" is no repeat."""
    for second in range(max(after, MIN_PHRASE_WORDS), len(words) - MIN_PHRASE_WORDS + 1):
        for length in range(min(MOST_PHRASE_WORDS, len(words) - second), MIN_PHRASE_WORDS - 1, -1):
            bridges = MOST_BRIDGE_WORDS if second + length == len(words) else 0
            for bridge in range(bridges + 1):
                first = second - bridge - length
                if first >= 0 and words[first:first + length] == words[second:second + length]:
                    return Repeat(first, second, length)
    return None


@dataclass(frozen=True)
class Piece:
    """A stretch of transcript (a window segment, or a whole short utterance) and the seconds of sound it came
    from (see `sound_seconds`)."""

    text: str
    sound_s: float


def said_once(text: str, sound_s: float) -> str:
    """`text`, decoded in one pass over `sound_s` seconds of sound, with what the decoder said again right after
    itself said once where the sound is too short to have held every word at REPEAT_WORDS_PER_S: a text that is
    one sentence over and over (`repeated_sentence`), or a phrase said twice (`without_repeats`)."""
    if len(text.split()) > REPEAT_WORDS_PER_S * sound_s and (once := repeated_sentence(text)):
        # Seen with both engines on the short context: the loop ends after a few rounds, inside the token budget.
        log.info("said one sentence over and over, faster than anyone speaks; kept it once")
        return text[: len(text) - len(text.lstrip())] + once  # (a window segment's leading space stays)
    return without_repeats([Piece(text, sound_s)])


def without_repeats(pieces: list[Piece]) -> str:
    """The pieces' text joined, with each phrase said again right after itself (see `find_repeat`) said once,
    the repeat and the words between the two dropped, where the pieces that hold the second saying say more words
    than their sound holds at REPEAT_WORDS_PER_S (TAIL_REPEAT_WORDS_PER_S with words between the two sayings); one
    piece, the short pass's whole text, holds both."""
    pieces, after = list(pieces), 0
    while True:
        text = "".join(p.text for p in pieces)
        found = [(m.group().lower().replace("’", "'"), m.start(), m.end()) for m in _WORD.finditer(text)]
        repeat = find_repeat([word for word, _, _ in found], after)
        if repeat is None:
            return text
        ends = np.cumsum([len(p.text) for p in pieces])  # where each piece ends in `text`
        first_piece = int(np.searchsorted(ends, found[repeat.second][1], side="right"))
        last_piece = int(np.searchsorted(ends, found[repeat.second + repeat.length - 1][1], side="right"))
        held = pieces[first_piece:last_piece + 1]
        words = sum(len(_WORD.findall(p.text)) for p in held)
        bridged = repeat.second > repeat.first + repeat.length
        if words <= (TAIL_REPEAT_WORDS_PER_S if bridged else REPEAT_WORDS_PER_S) * sum(p.sound_s for p in held):
            # A repeat the speaker could have said: kept, and the search goes on after it (its words are not judged
            # again as part of another repeat).
            after = repeat.second + repeat.length
            continue
        # Keep the first saying with what follows the second ("typography" + ","); drop the rest between. A third
        # saying now follows the first: the search goes on from there.
        cut_from, cut_to = found[repeat.first + repeat.length - 1][2], found[repeat.second + repeat.length - 1][2]
        log.info("dropped a phrase of %d words said again right after itself, faster than anyone speaks (%d words "
                 "in %.1f s of sound)", repeat.length, words, sum(p.sound_s for p in held))
        pieces, after = _cut(pieces, cut_from, cut_to), repeat.first + repeat.length


def _cut(pieces: list[Piece], start: int, end: int) -> list[Piece]:
    """The pieces with the characters [start, end) of their joined text taken out (each keeps its sound)."""
    cut, offset = [], 0
    for piece in pieces:
        a, b = max(start - offset, 0), min(end - offset, len(piece.text))
        cut.append(Piece(piece.text[:a] + piece.text[b:], piece.sound_s) if a < b else piece)
        offset += len(piece.text)
    return cut


class Loudness:
    """The loudness of 16 kHz audio in 20 ms frames, to tell how many seconds of it hold sound."""

    def __init__(self, audio: np.ndarray, rate: int = 16000) -> None:
        self.frame = int(FRAME_S * rate)
        self.rate = rate
        count = len(audio) // self.frame
        frames = np.asarray(audio[: count * self.frame], dtype=np.float64).reshape(count, self.frame)
        self.db = 20 * np.log10(np.sqrt(np.mean(frames ** 2, axis=1)) + 1e-10)
        loud = float(np.percentile(self.db, 95)) if count else SILENT_DBFS
        self.sound = (self.db > loud - QUIET_DB) & (self.db > SILENT_DBFS)

    def sound_seconds(self, start_s: float = 0.0, end_s: float | None = None) -> float:
        """Seconds from the first frame of sound to the last, between `start_s` and `end_s` (the whole audio by
        default): silence before and after speech does not count, pauses within it do."""
        first = max(0, int(start_s / FRAME_S))
        last = len(self.sound) if end_s is None else min(len(self.sound), int(np.ceil(end_s / FRAME_S)))
        on = np.flatnonzero(self.sound[first:last])
        return 0.0 if len(on) == 0 else float(on[-1] - on[0] + 1) * FRAME_S


def sound_seconds(audio: np.ndarray) -> float:
    """Seconds from the first sound in 16 kHz `audio` to the last (see `Loudness`)."""
    return Loudness(audio).sound_seconds()
