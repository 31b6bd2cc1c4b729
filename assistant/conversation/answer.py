"""A turn's answer as text to speak: a command the sentence templates know is done at once and its result said;
anything else goes to the chat model with the tools offered, and a tool it calls is run and its result said
(the tool's own words, or — for a tool that gives data, such as an MCP server's — the model's words about it)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from assistant.chat.tool_calls import read_calls
from assistant.tools import phrases
from assistant.tools.plausible import plausible
from assistant.tools.tool import Call

log = logging.getLogger(__name__)


def answer(chat, toolbox, question: str, language: str | None, turn_language: str | None = None,
           may_act: Callable[[], bool | None] = lambda: True) -> Iterator[str]:
    """The reply to `question` as text pieces. `language`: what the chat model is asked to answer in (None: its
    prompt's); `turn_language`: the language the turn was said in, for the tools' words (default `language`).
    `may_act()`: whether a tool that changes something may run now — True, False (the turn was dropped: do
    nothing) or None (a reply begun at a pause, the turn not surely over: wait). The caller records the reply with
    `chat.record_reply`, as for any reply."""
    spoken = turn_language or language
    if toolbox is not None:
        call = toolbox.match(question, spoken)
        if call is not None:
            chat.chat_history.begin_reply()  # (cancels a reply in progress, as a model's reply would)
            chat.chat_history.add_user(question)
            if toolbox.acts(call) and not wait_to_act(may_act):
                return
            yield toolbox.run(call, spoken).said
            return
    said = False
    stream = chat.reply(question, language)
    # (The reply's generation: a cancel or a newer turn moves it on. Only tools need it; tests' chats have none.)
    generation = chat.chat_history.generation if toolbox is not None else None
    for piece in stream:
        if not isinstance(piece, Call):
            said = said or bool(piece.strip())
            yield piece
            continue
        if toolbox is None:  # (an engine offered no tools calls none; a server's model might all the same)
            log.warning("the chat model called %s with no tools offered", piece.name)
            return
        call = toolbox.resolve(piece)
        if call is None:  # a made-up tool: its words, if it put an answer in them (small models do), else its own
            log.warning("the chat model called a tool Parley does not have: %s %s", piece.name, piece.arguments)
            yield made_up_call_words(piece) or words_instead(
                chat, piece, f"There is no tool called {piece.name}. Answer the user yourself, in plain words.",
                language) or phrases.say("no_answer", spoken)
            return
        if call.name in toolbox.builtin_names and not plausible(call.name, question):
            log.warning("the chat model called %s for %r, which does not ask for it: answered in words instead",
                        call.name, question[:80])
            yield words_instead(chat, piece, f"The user did not ask for {call.name}. Answer the user yourself, in "
                                f"plain words.", language) or phrases.say("no_answer", spoken)
            return
        if toolbox.acts(call) and not wait_to_act(may_act):
            return
        result = toolbox.run(call, spoken)
        if result.said or result.failed:
            yield result.said
            return
        text = result_text(result.data)
        if is_prose(text):  # a sentence of the tool's own ("Order 1234 arrives on Thursday."): said as it is
            yield text
            return
        for words in read_calls(chat.reply_with_result(call, text, language), set()):
            if isinstance(words, Call):  # (a small model that calls the tool again instead of saying its result)
                log.info("the chat model called %s again instead of saying its result", words.name)
                yield plain_words(result.data)
                return
            yield words
        return
    if not said and toolbox is not None and chat.chat_history.is_current(generation):
        # Nothing at all (a model that wrote only an empty tool list, "<tools></tools>"): asked again without the
        # tools, and a word rather than silence if that brings nothing either.
        log.info("the chat model gave no answer to %r with tools offered: asked again without them", question[:80])
        chat.withdraw(question)
        for piece in chat.reply(question, language, offer_tools=False):
            said = said or bool(piece.strip())
            yield piece
        if not said:
            yield phrases.say("no_answer", spoken)


def wait_to_act(may_act: Callable[[], bool | None], step_s: float = 0.02) -> bool:
    """Wait until `may_act()` decides: True to act, False when the turn was dropped (a reply begun at a pause that
    the user talked on from: "set a timer for five… no, ten minutes" sets one timer, not two)."""
    while True:
        verdict = may_act()
        if verdict is not None:
            return verdict
        time.sleep(step_s)


def words_instead(chat, call: Call, told: str, language: str | None) -> str:
    """The model's words after it is told (as `call`'s result) that the call was no use; "" when it gives none."""
    return "".join(w for w in read_calls(chat.reply_with_result(call, told, language), set())
                   if isinstance(w, str)).strip()


def made_up_call_words(call: Call) -> str:
    """The longest sentence among a made-up call's arguments ("cat_joke {'message': 'Why did the cat…'}"), or ""."""
    texts = [value for value in call.arguments.values() if isinstance(value, str) and len(value.split()) >= 3]
    return max(texts, key=len, default="")


def is_prose(text: str, limit: int = 300) -> bool:
    """Whether a tool's result reads as a sentence to say, not data for the model to put into words."""
    stripped = text.strip()
    return bool(stripped) and len(stripped) <= limit and stripped[0] not in "{[<" and "\n\n" not in stripped


def plain_words(data: object) -> str:
    """Data said plainly, when the model could not put it into words: "timezone Asia/Tokyo, day of week Tuesday"."""
    if isinstance(data, str):
        import json

        try:
            data = json.loads(data)
        except ValueError:
            return data.strip()[:300]
    if isinstance(data, dict):
        return ", ".join(f"{str(key).replace('_', ' ')} {plain_words(value)}" for key, value in data.items()) + "."
    if isinstance(data, list):
        return ", ".join(plain_words(item) for item in data)
    return str(data)


def result_text(data: object) -> str:
    """A tool's data as the chat model reads it."""
    if isinstance(data, str):
        return data
    import json

    return json.dumps(data, ensure_ascii=False, default=str)
