"""What the user asked Parley to remember: a short list of facts in a JSON file, put in the chat model's system
prompt, listed and edited in the settings window, and said back or forgotten on request."""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

from assistant.runtime.atomic_file import set_aside, write_atomically
from assistant.runtime.paths import data_dir
from assistant.tools import phrases
from assistant.tools.tool import Tool, ToolError, ToolResult, parameters

log = logging.getLogger(__name__)

MAX_FACTS = 50  # each is in every prompt: a small model's context is 2,048 tokens
MAX_FACT_CHARS = 300


class MemoryBook:
    """The remembered facts in `path`, oldest first. Thread-safe; every change is written at once (atomically)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path or data_dir() / "memory.json")
        self._lock = threading.Lock()

    def facts(self) -> list[str]:
        with self._lock:
            return self._read()

    def replace_all(self, facts: list[str]) -> None:
        """Keep exactly `facts` (the settings window's edits)."""
        cleaned = [" ".join(f.split())[:MAX_FACT_CHARS] for f in facts if f.strip()][-MAX_FACTS:]
        with self._lock:
            self._write(cleaned)

    def remember(self, fact: str) -> str:
        fact = " ".join(fact.split()).strip(" .。")[:MAX_FACT_CHARS]
        with self._lock:
            facts = [f for f in self._read() if f.lower() != fact.lower()]
            self._write((facts + [fact])[-MAX_FACTS:])
        return fact

    def forget(self, about: str) -> list[str]:
        """Forget the facts about `about` (all when it is empty or "everything"); those forgotten."""
        with self._lock:
            facts = self._read()
            if about.strip().lower() in ("", "everything", "all", "전부", "모두", "所有", "全部", "一切"):
                gone = facts
            else:
                gone = [f for f in facts if _overlap(about, f)]
            if gone:
                self._write([f for f in facts if f not in gone])
        return gone

    def prompt_text(self) -> str:
        """The facts as a paragraph of the system prompt ("" when there are none)."""
        facts = self.facts()
        if not facts:
            return ""
        return "What the user asked you to remember: " + " ".join(f"- {f}." for f in facts)

    def _read(self) -> list[str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [str(f) for f in data["facts"]]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            aside = set_aside(self.path)
            log.error("%s is unreadable (%s); it was moved to %s and the memory starts empty", self.path, exc, aside)
            return []

    def _write(self, facts: list[str]) -> None:
        write_atomically(self.path, json.dumps({"facts": facts}, ensure_ascii=False, indent=1).encode("utf-8"))


def _words(text: str) -> set[str]:
    """The words of `text` for matching (each CJK character counts as one: Chinese has no spaces)."""
    lowered = text.lower()
    return set(re.findall(r"[a-z0-9]{3,}", lowered)) | set(re.findall(r"[\u3040-\u9fff\uac00-\ud7af]", lowered))


_STOP = {"the", "that", "this", "what", "about", "and", "you", "remember", "forget", "my", "기", "억", "잊", "我", "的"}


def _overlap(about: str, fact: str) -> bool:
    wanted = _words(about) - _STOP
    return bool(wanted) and len(wanted & _words(fact)) >= max(1, len(wanted) // 2)


def memory_tools(book: MemoryBook) -> tuple[Tool, ...]:
    def remember(arguments: dict, language: str) -> ToolResult:
        fact = book.remember(str(arguments["fact"]))
        if not fact:
            raise ToolError(phrases.say("memory_empty", language))
        return ToolResult(phrases.say("remembered", language, fact=fact), {"fact": fact})

    def recall(arguments: dict, language: str) -> ToolResult:
        facts = book.facts()
        if not facts:
            return ToolResult(phrases.say("memory_empty", language), [])
        joiner = {"en": "; ", "ko": "; ", "zh": "；"}[phrases.language_of(language)]
        return ToolResult(phrases.say("memory_list", language, facts=joiner.join(facts)), facts)

    def forget(arguments: dict, language: str) -> ToolResult:
        about = str(arguments.get("about") or "")
        gone = book.forget(about)
        if not gone:
            return ToolResult(phrases.say("nothing_to_forget", language, what=about), [])
        said = (phrases.say("forgot", language, fact=gone[0]) if len(gone) == 1
                else phrases.say("forgot_all", language, count=len(gone)))
        return ToolResult(said, gone)

    return (
        Tool("remember", "Remember a fact for later conversations, when the user says remember, keep in mind or "
             "don't forget.",
             parameters(("fact",), fact={"type": "string", "description": "the fact, e.g. my car is on level 2"}),
             remember, acts=True),
        Tool("recall", "Say everything the user asked you to remember.", parameters(), recall),
        Tool("forget", "Forget what the user asked you to remember about something (empty: everything).",
             parameters((), about={"type": "string"}), forget, acts=True),
    )
