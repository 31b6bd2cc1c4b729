"""An hour of conversation on the virtual audio rig (`make soak`): does Parley keep answering, and does it leak?

    .venv/bin/python -m benchmarks.soak [--minutes 60] [--seed 1]

The real `parley chat --json` runs on the tests' virtual devices (tests/rig/) with an echo path: its speaker plays
back into its microphone 10 dB down and 40 ms late, as laptop speakers do. Its settings (a temporary config folder)
ask for one-sentence answers, so each turn fits in its 20 s slot. Every ~20 s a question spoken by the Piper voice
is played into the microphone, once Parley listens again: short questions with a keyword each, and on every third
turn "Tell me a long story about ..." which is interrupted 0.8 s into the reply ("Stop, stop. Tell me something
else."; Parley then answers that too). At 1/3 and 2/3 of the run the microphone is unplugged (its streams taken
away, as a plain ALSA or CoreAudio host does) for a few seconds and plugged back in. No question is asked after
the planned minutes; the turn under way is finished, then Parley is stopped with Ctrl+C (SIGINT).

Counted, from Parley's JSON events:
  turns asked / answered (a UserSaid and a ReplyFinished for it) / played out (a reply not interrupted);
  lost turns: a question with no UserSaid (it went unheard: Parley stayed listening), or no reply within 60 s;
  misheard: a transcript without the question's keyword; phantom turns: transcripts of nothing that was played
  (Parley taking its own voice for the user's);
  interruptions asked / honoured (a BargeIn and an interrupted ReplyFinished for the turn spoken over) / too late
  (a BargeIn, but the reply ended whole as it came) / missed (no BargeIn) / answered (the interruption itself got
  a reply);
  false barge-ins: a BargeIn when no interruption was played (Parley taking its own echo for the user);
  hangs: no state change for 30 s while a turn is under way and Parley is not listening;
  microphone outages and every Problem reported.
And from /proc/<pid>/status and /proc/<pid>/fd of the parley process: resident memory (VmRSS) once it listens,
after 10 minutes and at the end (and the growth after the first 10 minutes), threads and open descriptors at the
start and at the end, and all three every minute ("samples": [minute, rss MB, threads, fds, load average], the
machine's 1-minute load average beside them, as other work on it slows Parley down). Finally the time
Ctrl+C took to end it, measured from outside, and its exit status.

Prints one JSON object on stdout (progress on stderr), with the targets beside it: 0 hangs, 0 lost turns, RSS
growth after the first 10 minutes <= 50 MB, threads and descriptors flat. Exit status 0 when the run completed
(whatever the figures), 1 when Parley died or the run failed, 130 on Ctrl+C (the partial figures are printed).
Parley's log is kept (its folder is in "log") when anything went wrong; otherwise the temporary folders go.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import json
import os
import queue
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

from benchmarks.live import VOICE_RATE, piper_say
from test_conversation_live import _heard_as  # (benchmarks.live puts tests/ on sys.path)

SLOT_S = 20.0  # a question every ~20 s
LOST_AFTER_S = 60.0  # a question with no reply by then is lost
HANG_AFTER_S = 30.0  # no state change for this long while a turn is under way (and not listening): a hang
UNHEARD_AFTER_S = 4.0  # still listening this long after the question ended: it went unheard
INTERRUPT_AFTER_S = 0.8  # how long a story plays before it is spoken over
SAMPLE_EVERY_S = 60.0
SETTLE_S = 0.8  # after a reply, as a person hears the echo's tail out before asking again
OVERRUN_S = 150.0  # the run ends by itself at most this long after the planned minutes
STARTUP_S = 180.0  # models loading, on a busy machine
FLAT = 2  # threads or descriptors "flat": at most this many more at the end than at the start

# Short questions, each with a word its transcript should hold (reported as "misheard" when it does not).
QUESTIONS = [
    ("What is the capital of France?", "france"), ("What is the color of the sky?", "sky"),
    ("How many legs does a cat have?", "legs"), ("What is the largest ocean?", "ocean"),
    ("What do bees make?", "bees"), ("How many days are in a week?", "week"),
]
STORIES = ["a brave little dragon", "a lost robot", "a pirate ship", "a sleepy owl", "a tiny castle"]
INTERRUPTION = "Stop, stop. Tell me something else."
SYSTEM_PROMPT = "Answer in one short sentence."


class ParleyDied(Exception):
    pass


@dataclasses.dataclass
class Question:
    text: str
    keyword: str
    interrupt: bool  # a story, spoken over while Parley tells it


@dataclasses.dataclass
class ParleyTurn:
    """What Parley said about one of its turns (its own numbering)."""

    said: dict | None = None
    said_at: float = 0.0  # minutes into the run
    barge_in: dict | None = None
    finished: dict | None = None


def process_stats(pid: int) -> dict:
    """Resident memory (MB), threads and open file descriptors of a running process."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return {"rss_mb": round(int(fields["VmRSS"][0]) / 1024, 1), "threads": int(fields["Threads"][0]),
            "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def questions(seed: int):
    """Endless questions: every third one a story to interrupt, the others short, in an order set by `seed`."""
    rng = random.Random(seed)
    n = 0
    while True:
        n += 1
        if n % 3 == 0:
            yield Question(f"Tell me a long story about {rng.choice(STORIES)}.", "story", interrupt=True)
        else:
            text, keyword = rng.choice(QUESTIONS)
            yield Question(text, keyword, interrupt=False)


def parley_log(chat) -> str:
    """Parley's log so far: read through the running process's own descriptor, so that it is there even when
    something cleaned its temporary folder away meanwhile (as happened on a shared machine)."""
    try:
        for fd in os.listdir(f"/proc/{chat.proc.pid}/fd"):
            if os.readlink(f"/proc/{chat.proc.pid}/fd/{fd}").startswith(str(chat.log_dir / "parley.log")):
                return Path(f"/proc/{chat.proc.pid}/fd/{fd}").read_text(errors="replace")
    except OSError:
        pass
    log = chat.log_dir / "parley.log"
    return log.read_text(errors="replace") if log.exists() else ""


def log_around(log: str, when: datetime.datetime, before_s: float = 10, after_s: float = 5) -> list[str]:
    """The lines of Parley's log from `before_s` before `when` to `after_s` after it (its explanation of an
    event often comes a moment after the event)."""
    lines = []
    for line in log.splitlines():
        try:
            stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
        except ValueError:
            continue
        if -before_s <= (stamp - when).total_seconds() <= after_s:
            lines.append(line[11:])
    return lines[-15:]


class Soak:
    """One soak run: asks, watches every event, samples the process; `result()` sums it up."""

    def __init__(self, rig, chat, say, minutes: float, seed: int):
        self.rig, self.chat, self.minutes, self.seed = rig, chat, minutes, seed
        self.audio = {}  # text → spoken audio (synthesized once)
        self.say = say
        self.counts = collections.Counter()
        self.problems, self.samples, self.anomalies = [], [], []
        self.outages = []
        self.parley_turns: dict[int, ParleyTurn] = {}
        self.accounted: set[int] = set()  # Parley turns that are transcripts of a question or an interruption
        self.recent = collections.deque(maxlen=30)  # the last events, for anomaly reports
        self.state, self.state_since = None, time.monotonic()
        self.turn_open = False  # a question was played and its turn is not over yet
        self.in_outage = False
        self.hang_reported = False
        self.barge_in_expected = None  # the Parley turn being spoken over
        self.started = self.deadline = self.hard_stop = None
        self.next_sample = None
        self.stats_start = self.stats_10 = self.stats_end = None
        self.quit = None
        self.log = ""  # Parley's log, taken just before it quits
        self.minutes_run = None

    # ------------------------------------------------------------------ clock and events

    def minute(self) -> float:
        return round((time.monotonic() - self.started) / 60, 2) if self.started else 0.0

    def progress(self, text: str) -> None:
        print(f"[{self.minute():6.2f} min] {text}", file=sys.stderr, flush=True)

    def wait(self, seconds: float, done=lambda: False) -> bool:
        """Take in events for up to `seconds` (never past the hard stop); True as soon as `done()` holds."""
        end = time.monotonic() + seconds
        if self.hard_stop is not None:
            end = min(end, self.hard_stop)
        while True:
            if done():
                return True
            now = time.monotonic()
            if now >= end:
                return False
            try:
                self.on_event(self.chat.events.get(timeout=min(0.2, end - now)))
            except queue.Empty:
                if self.chat.proc.poll() is not None:
                    raise ParleyDied(f"parley chat exited with {self.chat.proc.returncode}")
            self.sample_if_due()
            self.check_hang()

    def on_event(self, event: dict) -> None:
        self.recent.append(event)
        kind = event["event"]
        if kind == "StateChanged":
            self.state, self.state_since = event["state"], time.monotonic()
        elif kind in ("UserSaid", "BargeIn", "ReplyFinished"):
            turn = self.parley_turns.setdefault(event["turn"], ParleyTurn())
            if kind == "UserSaid":
                turn.said, turn.said_at = event, self.minute()
            elif kind == "ReplyFinished":
                turn.finished = event
            else:
                self.on_barge_in(event, turn)
        elif kind == "Problem":
            self.problems.append({"min": self.minute(), "message": event["message"], "during_outage": self.in_outage})
            self.progress(f"Problem: {event['message']}")

    def on_barge_in(self, event: dict, turn: ParleyTurn) -> None:
        expected = event["turn"] == self.barge_in_expected and turn.barge_in is None
        turn.barge_in = event
        if not expected:
            self.counts["false_barge_ins"] += 1
            self.anomaly("false barge-in", event=short(event))

    def anomaly(self, what: str, **details) -> None:
        self.progress(f"{what.upper()}: {details}")
        self.anomalies.append({"min": self.minute(), "what": what, **details,
                               "events": [short(e) for e in list(self.recent)[-12:]],
                               "at": datetime.datetime.now()})

    def check_hang(self) -> None:
        stuck = time.monotonic() - self.state_since
        if self.turn_open and not self.hang_reported and self.state != "listening" and stuck > HANG_AFTER_S:
            self.hang_reported = True
            self.counts["hangs"] += 1
            self.anomaly("hang", state=self.state, for_s=round(stuck, 1))

    def sample_if_due(self, force: bool = False) -> dict | None:
        if self.next_sample is None or (not force and time.monotonic() < self.next_sample):
            return None
        self.next_sample += SAMPLE_EVERY_S
        try:
            stats = process_stats(self.chat.proc.pid)
        except OSError as gone:
            raise ParleyDied(f"parley chat is gone ({gone})") from gone
        self.samples.append([self.minute(), stats["rss_mb"], stats["threads"], stats["fds"],
                             round(os.getloadavg()[0], 1)])
        if self.stats_10 is None and self.minute() >= 10 - 0.01:
            self.stats_10 = stats
        self.progress(f"sample: {stats}")
        return stats

    # ------------------------------------------------------------------ the conversation

    def spoken(self, text: str) -> np.ndarray:
        if text not in self.audio:
            self.audio[text] = self.say(text)
        return self.audio[text]

    def listening(self) -> bool:
        return self.state == "listening"

    def run(self) -> None:
        self.wait(STARTUP_S, self.listening)
        if not self.listening():
            raise RuntimeError(f"parley chat did not start listening within {STARTUP_S:.0f} s")
        self.wait(1.0)
        self.started = time.monotonic()
        self.deadline = self.started + self.minutes * 60
        self.hard_stop = self.deadline + OVERRUN_S
        self.next_sample = self.started
        self.stats_start = self.sample_if_due()
        outages_due = [self.started + self.minutes * 60 * k / 3 for k in (1, 2)]
        slot = self.started
        for question in questions(self.seed):
            self.wait(slot - time.monotonic())
            self.until_listening()
            if time.monotonic() >= self.deadline:
                break
            if outages_due and time.monotonic() >= outages_due[0]:
                outages_due.pop(0)
                self.outage()
            slot = time.monotonic() + SLOT_S
            self.ask(question)
        self.until_listening()
        self.stats_end = self.sample_if_due(force=True)
        self.minutes_run = self.minute()
        self.quit_parley()

    def until_listening(self) -> None:
        """Wait (up to LOST_AFTER_S) until Parley listens again and a moment more: the turn under way is over (one
        that never ends shows as a hang)."""
        self.wait(LOST_AFTER_S, self.listening)
        self.wait(SETTLE_S)
        self.turn_open = False

    def ask(self, question: Question) -> None:
        n = self.counts["asked"] = self.counts["asked"] + 1
        audio = self.spoken(question.text)
        asked_at = time.monotonic()
        give_up = asked_at + LOST_AFTER_S
        heard_by = asked_at + len(audio) / VOICE_RATE + UNHEARD_AFTER_S
        first = max(self.parley_turns, default=-1) + 1
        listened = self.listening()  # else the next transcript may be of something else (Parley's own echo)
        self.turn_open, self.hang_reported = True, False
        self.rig.play_into_mic(audio, VOICE_RATE, wait=False)
        try:
            said = self.wait_for_user_said(first, give_up, heard_by, lambda text: listened or _heard_as(
                question.text, question.keyword, text))
            if said is None:
                return self.lost(n, question, "unheard" if time.monotonic() < give_up else "no transcript in 60 s")
            self.accounted.add(said.said["turn"])
            if question.keyword not in said.said["text"].lower():
                self.counts["misheard"] += 1
            spoken_over = question.interrupt and self.interrupt(said, give_up)
            self.wait(give_up - time.monotonic(), lambda: said.finished is not None)
            if said.finished is None:
                return self.lost(n, question, "no reply in 60 s", heard=said.said["text"])
            self.answered(n, question, said)
            if spoken_over:
                self.hear_the_answer_to_the_interruption(said.said["turn"])
        finally:
            self.rig.wait_for_mic_playback()
            self.barge_in_expected = None

    def wait_for_user_said(self, first: int, give_up: float, heard_by: float,
                           ours=lambda text: True) -> ParleyTurn | None:
        """The first Parley turn (numbered `first` or later) with a transcript that is `ours`; None if the speech
        went unheard (Parley still listening, untouched, well after it ended) or nothing came by `give_up`."""

        def said() -> ParleyTurn | None:
            return next((t for n, t in sorted(self.parley_turns.items())
                         if n >= first and t.said and ours(t.said["text"])), None)

        def unheard() -> bool:
            now = time.monotonic()
            return now > heard_by and self.listening() and now - self.state_since > UNHEARD_AFTER_S

        self.wait(give_up - time.monotonic(), lambda: said() is not None or unheard())
        return said()

    def interrupt(self, turn: ParleyTurn, give_up: float) -> bool:
        """Speak over the reply of `turn` once it has played a moment; False when it ended before that.

        Honoured: a BargeIn and the reply finished as interrupted. Too late: the reply was not interrupted but
        Parley heard the interruption (a BargeIn) as the reply's last words played (a one-sentence "story" can end
        within the moment an interruption takes to be heard). Missed: no BargeIn, the reply played on."""
        number = turn.said["turn"]
        self.wait(give_up - time.monotonic(), lambda: self.state == "speaking" or turn.finished is not None)
        self.wait(INTERRUPT_AFTER_S, lambda: turn.finished is not None)
        if turn.finished is not None:
            self.progress(f"turn {number}: the reply ended before it could be interrupted")
            return False
        self.counts["interruptions_asked"] += 1
        self.barge_in_expected = number
        self.rig.play_into_mic(self.spoken(INTERRUPTION), VOICE_RATE, wait=False)
        self.wait(give_up - time.monotonic(), lambda: turn.finished is not None)
        if turn.barge_in is not None and turn.finished is not None and turn.finished["interrupted"]:
            self.counts["interruptions_honoured"] += 1
        elif turn.barge_in is not None:
            self.counts["interruptions_too_late"] += 1
            self.progress(f"turn {number}: the interruption came as the reply ended (a BargeIn, not interrupted)")
        else:
            self.counts["interruptions_missed"] += 1
            self.anomaly("interruption missed", turn=number, finished=short(turn.finished) if turn.finished else None)
        return True

    def answered(self, n: int, question: Question, turn: ParleyTurn) -> None:
        self.counts["answered"] += 1
        interrupted = turn.finished["interrupted"]
        self.counts["played_out"] += not interrupted
        if interrupted and not question.interrupt:
            self.anomaly("reply interrupted though nobody spoke", turn=turn.said["turn"])
        self.progress(f"turn {n}: {question.text!r} heard {turn.said['text']!r} → "
                      f"{turn.finished['text'][:70]!r}{' [interrupted]' if interrupted else ''}")

    def lost(self, n: int, question: Question, why: str, **details) -> None:
        self.counts["lost"] += 1
        self.anomaly("lost turn", turn=n, question=question.text, why=why, **details)

    def hear_the_answer_to_the_interruption(self, interrupted: int) -> None:
        """The interruption is a question too ("Tell me something else."): Parley should answer it."""
        give_up = time.monotonic() + LOST_AFTER_S
        heard_by = time.monotonic() + len(self.spoken(INTERRUPTION)) / VOICE_RATE + UNHEARD_AFTER_S
        turn = self.wait_for_user_said(interrupted + 1, give_up, heard_by)
        if turn is not None:
            self.accounted.add(turn.said["turn"])
        if turn is not None and self.wait(give_up - time.monotonic(), lambda: turn.finished is not None):
            self.counts["interruptions_answered"] += 1
            self.progress(f"  the interruption, heard {turn.said['text']!r} → {turn.finished['text'][:70]!r}")
        else:
            self.anomaly("interruption not answered", turn=interrupted, heard=turn.said["text"] if turn else None)

    def outage(self) -> None:
        """Unplug the microphone (taking its streams) for a few seconds, then plug it back in."""
        self.progress("unplugging the microphone")
        before, self.in_outage = len(self.problems), True
        self.rig.remove_microphone(take_streams=True)
        reported = self.wait(30, lambda: len(self.problems) > before)
        self.wait(5)
        self.rig.restore_microphone()
        self.progress("microphone plugged back in")
        self.outages.append({"min": self.minute(), "reported": reported})
        self.wait(10, self.listening)
        self.wait(2)
        self.in_outage = False

    def take_log(self) -> None:
        """Parley's log, while it runs; each anomaly gets the log lines around it."""
        if self.log or self.chat.proc.poll() is not None:
            return
        self.log = parley_log(self.chat)
        for anomaly in self.anomalies:
            anomaly["log"] = log_around(self.log, anomaly.pop("at"))

    def quit_parley(self) -> None:
        self.take_log()
        self.progress("Ctrl+C")
        took = self.chat.stop(signal.SIGINT)
        self.quit = {"seconds": round(took, 2), "exit_status": self.chat.proc.returncode}

    # ------------------------------------------------------------------ the figures

    def phantom_turns(self) -> list[dict]:
        """Transcripts of nothing that was played, with Parley's reply."""
        return [{"min": t.said_at, "turn": n, "heard": t.said["text"][:80],
                 "reply": t.finished["text"][:80] if t.finished else None}
                for n, t in sorted(self.parley_turns.items()) if t.said and n not in self.accounted]

    def result(self) -> dict:
        c = self.counts
        start, end, at_10 = self.stats_start or {}, self.stats_end or {}, self.stats_10 or {}
        growth_10 = round(end["rss_mb"] - at_10["rss_mb"], 1) if end and at_10 else None
        targets_met = {
            "hangs": c["hangs"] == 0,
            "lost_turns": c["lost"] == 0,
            "rss_growth_after_10_min": growth_10 <= 50 if growth_10 is not None else None,
            "threads_flat": end["threads"] - start["threads"] <= FLAT if end and start else None,
            "fds_flat": end["fds"] - start["fds"] <= FLAT if end and start else None,
        }
        return {
            "minutes": self.minutes, "minutes_run": self.minutes_run or self.minute(), "seed": self.seed,
            "turns": {"asked": c["asked"], "answered": c["answered"], "played_out": c["played_out"],
                      "lost": c["lost"], "misheard": c["misheard"],
                      "phantom": len(self.phantom_turns())},
            "interruptions": {"asked": c["interruptions_asked"], "honoured": c["interruptions_honoured"],
                              "too_late": c["interruptions_too_late"], "missed": c["interruptions_missed"],
                              "answered": c["interruptions_answered"]},
            "false_barge_ins": c["false_barge_ins"], "hangs": c["hangs"],
            "microphone_outages": self.outages, "problems": self.problems,
            "rss_mb": {"start": start.get("rss_mb"), "at_10_min": at_10.get("rss_mb"), "end": end.get("rss_mb"),
                       "growth_after_10_min": growth_10,
                       "growth": round(end["rss_mb"] - start["rss_mb"], 1) if end and start else None},
            "threads": {"start": start.get("threads"), "end": end.get("threads")},
            "fds": {"start": start.get("fds"), "end": end.get("fds")},
            "quit": self.quit,
            "samples": self.samples, "sample_fields": ["minute", "rss_mb", "threads", "fds", "load1"],
            "targets": {"hangs": 0, "lost_turns": 0, "rss_growth_after_10_min_mb": "<= 50",
                        "threads": f"flat (end <= start + {FLAT})", "fds": f"flat (end <= start + {FLAT})"},
            "targets_met": targets_met,
            "phantom_turns": self.phantom_turns()[:20],
            "anomalies": [{k: v for k, v in a.items() if k != "at"} for a in self.anomalies[:20]],
        }


def short(event: dict) -> dict:
    """An event without its clock, its long texts cut."""
    return {k: (v[:80] if isinstance(v, str) else v) for k, v in event.items() if k != "t"}


def short_settings_dir() -> Path:
    """A temporary config folder whose settings ask for one-sentence answers."""
    from assistant.runtime.settings import Settings, save_settings

    folder = Path(tempfile.mkdtemp(prefix="parley-soak-config-"))
    settings = Settings()
    settings = dataclasses.replace(settings, conversation=dataclasses.replace(
        settings.conversation, system_prompt=SYSTEM_PROMPT))
    save_settings(settings, folder / "settings.toml")
    return folder


def keep_log(text: str, log_dir: Path) -> str:
    """Parley's log (as taken before it quit, else what its folder holds) in a folder of its own; its path."""
    kept = Path(tempfile.mkdtemp(prefix="parley-soak-log-"))
    for old in sorted(log_dir.glob("parley.log*")):
        shutil.copy(old, kept / old.name)
    if text:
        (kept / "parley.log").write_text(text)
    return str(kept / "parley.log")


def _interrupt_on_sigterm() -> None:
    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main(minutes: float = 60, seed: int = 1) -> int:
    from rig import AudioRig
    from test_conversation_live import ChatProcess

    _interrupt_on_sigterm()
    rig, chat, soak, config, status, error = AudioRig(), None, None, None, 0, None
    try:
        say = piper_say()
        config = short_settings_dir()
        os.environ["PARLEY_CONFIG_DIR"] = str(config)  # the child's settings (ChatProcess passes os.environ on)
        rig.start()
        rig.enable_echo(latency_ms=40, volume_db=-10)
        chat = ChatProcess(rig)
        soak = Soak(rig, chat, say, minutes, seed)
        soak.run()
    except KeyboardInterrupt:
        status, error = 130, "interrupted (Ctrl+C)"
    except Exception as failure:  # Parley died, or the rig or this script failed: still the figures so far
        traceback.print_exc()
        status, error = 1, f"{type(failure).__name__}: {failure}"
    finally:
        if soak is not None and soak.quit is None:
            soak.quit_parley()  # (takes its log first; a process that Ctrl+C already ended quits in 0 s)
        elif chat is not None:
            chat.stop()
        rig.stop()
        if config is not None:
            shutil.rmtree(config, ignore_errors=True)
    result = soak.result() if soak else {}
    if error:
        result["error"] = error
        if chat is not None:
            result["diagnosis"] = chat.diagnosis().splitlines()[-40:]
    if chat is not None:
        troubled = result.get("anomalies") or result.get("phantom_turns")
        if error or troubled or False in result.get("targets_met", {}).values():
            result["log"] = keep_log(soak.log if soak else "", chat.log_dir)
        shutil.rmtree(chat.log_dir, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return status


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60, help="how long to keep asking (default 60)")
    parser.add_argument("--seed", type=int, default=1, help="the order of the questions (default 1)")
    args = parser.parse_args()
    sys.exit(main(args.minutes, args.seed))
