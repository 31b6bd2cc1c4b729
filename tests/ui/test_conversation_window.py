"""The conversation window, driven by the engine's events on an offscreen screen."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication exists

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QTextLayout
from PySide6.QtWidgets import QLabel, QWidget

from assistant.runtime.events import (Answering, BargeIn, Loading, Problem, ReplyFinished, ReplyText, State, StateChanged,
                              TurnTimings, UserSaid, WordsSoFar)
from ui.conversation_rows import format_timings, language_label
from ui.conversation_window import ConversationWindow

# conversation.png comes from the real app (test_app_live.py); conversation-widget.png, from here, is for review.


@pytest.fixture()
def window(qtbot) -> ConversationWindow:
    shown = ConversationWindow()
    qtbot.addWidget(shown)
    shown.show()
    qtbot.waitExposed(shown)
    return shown


def labels(window: ConversationWindow, *names: str) -> list[tuple[str, str]]:
    """(object name, text) of the visible labels with these names, in transcript order."""
    def widgets(layout):
        return [layout.itemAt(index).widget() for index in range(layout.count()) if layout.itemAt(index).widget()]

    found = []
    for chunk in widgets(window.findChild(QWidget, "transcript").layout()):
        for row in widgets(chunk.layout()):
            for label in row.findChildren(QLabel):
                if label.objectName() in names and label.isVisibleTo(window):
                    found.append((label.objectName(), label.text().replace("\u200b", "")))
    return found


def texts(window: ConversationWindow, name: str) -> list[str]:
    return [text for _, text in labels(window, name)]


def say(window: ConversationWindow, turn: int, question: str, answer_parts: list[str], language: str = "en") -> None:
    window.on_event(UserSaid(turn, question, language))
    for part in answer_parts:
        window.on_event(ReplyText(turn, part))


def test_streaming_deltas_fill_one_bubble(window):
    say(window, 1, "How tall is the Eiffel Tower?", ["The Eiffel"])
    assert texts(window, "replyText") == ["The Eiffel"]
    bubble = window.findChild(QLabel, "replyText")
    for part in [" Tower is", " 330 metres", " tall."]:
        window.on_event(ReplyText(1, part))
    assert texts(window, "replyText") == ["The Eiffel Tower is 330 metres tall."]
    assert window.findChild(QLabel, "replyText") is bubble  # filled in, not rebuilt

    window.on_event(ReplyFinished(1, "The Eiffel Tower is 330 metres tall.", False))
    assert texts(window, "replyText") == ["The Eiffel Tower is 330 metres tall."]
    assert labels(window, "interruptedTag") == []


def test_no_reply_bubble_before_the_first_words(window):
    window.on_event(UserSaid(1, "Hello?", "en"))
    window.on_event(StateChanged(State.THINKING))
    assert texts(window, "userText") == ["Hello?"]
    assert texts(window, "replyText") == []


def test_words_so_far_show_in_one_dimmed_bubble_that_the_transcript_replaces(window):
    window.on_event(StateChanged(State.USER_SPEAKING))
    window.on_event(WordsSoFar("What is the"))
    bubble = window.findChild(QLabel, "userText")
    assert texts(window, "userText") == ["What is the …"] and bubble.property("provisional")
    window.on_event(WordsSoFar("What is the capital of"))
    window.on_event(StateChanged(State.THINKING))
    assert texts(window, "userText") == ["What is the capital of …"]
    window.on_event(UserSaid(1, "What is the capital of France?", "en"))
    assert texts(window, "userText") == ["What is the capital of France?"]
    assert window.findChild(QLabel, "userText") is bubble and not bubble.property("provisional")
    assert texts(window, "languageTag") == []  # (English: no tag; "hearing you…" is gone)


def test_words_of_speech_that_came_to_no_turn_go_away(window):
    window.on_event(UserSaid(1, "Hello?", "en"))
    window.on_event(StateChanged(State.USER_SPEAKING))
    window.on_event(WordsSoFar("Uh"))
    assert texts(window, "userText") == ["Hello?", "Uh …"]
    window.on_event(StateChanged(State.LISTENING))
    assert texts(window, "userText") == ["Hello?"]
    window.on_event(StateChanged(State.USER_SPEAKING))
    window.on_event(WordsSoFar("Tell me"))
    window.on_event(UserSaid(2, "Tell me a joke.", "en"))
    assert texts(window, "userText") == ["Hello?", "Tell me a joke."]


def test_interrupted_reply_shows_only_what_was_heard(window):
    say(window, 1, "Tell me about volcanoes.", ["Volcanoes form where", " magma rises through", " the crust, and"])
    window.on_event(BargeIn(1, 120.0))
    window.on_event(ReplyFinished(1, "Volcanoes form where magma", True))
    window.on_event(ReplyText(1, " erupts."))  # generated before the cancel landed: never heard

    assert texts(window, "replyText") == ["Volcanoes form where magma"]
    tags = texts(window, "interruptedTag")
    assert len(tags) == 1 and "interrupted" in tags[0]


def test_reply_interrupted_before_a_word_was_heard_still_shows_the_mark(window):
    say(window, 1, "What's the weather like?", ["It looks"])
    window.on_event(ReplyFinished(1, "", True))
    assert texts(window, "replyText") == []
    assert len(texts(window, "interruptedTag")) == 1


def test_timings_formatted():
    assert format_timings({"transcript": 930, "first_token": 1190.4, "first_audio": 1740}) == (
        "speech → text 0.93 s · first word 1.19 s · first sound 1.74 s")
    assert format_timings({"first_audio": 640.0, "first_token": 310.0}) == "first word 0.31 s · first sound 0.64 s"
    assert format_timings({"total": 3000.0}) == ""


def test_timings_appear_under_the_reply_and_missing_ones_are_skipped(window):
    say(window, 1, "Hi", ["Hello!"])
    window.on_event(ReplyFinished(1, "Hello!", False))
    window.on_event(TurnTimings(1, {"transcript": 930.0, "first_token": 1190.0, "first_audio": 1740.0}))
    say(window, 2, "typed question", ["Typed answer."])
    window.on_event(ReplyFinished(2, "Typed answer.", False))
    window.on_event(TurnTimings(2, {"first_token": 412.0, "first_audio": 980.0}))

    assert labels(window, "replyText", "timings") == [
        ("replyText", "Hello!"), ("timings", "speech → text 0.93 s · first word 1.19 s · first sound 1.74 s"),
        ("replyText", "Typed answer."), ("timings", "first word 0.41 s · first sound 0.98 s")]


def test_timings_without_any_known_stage_show_nothing(window):
    say(window, 1, "Hi", ["Hello!"])
    window.on_event(TurnTimings(1, {}))
    assert texts(window, "timings") == []


def test_language_is_shown_only_when_not_english(window):
    window.on_event(UserSaid(1, "Quelle heure est-il ?", "fr"))
    window.on_event(UserSaid(2, "What time is it?", "en"))
    window.on_event(UserSaid(3, "typed with the language setting on auto", "auto"))
    assert texts(window, "languageTag") == ["French"]
    assert language_label("de") == "German" and language_label("en-GB") == ""


def test_enter_sends_the_typed_text_once_and_clears_the_box(window, qtbot):
    sent = []
    window.text_submitted.connect(sent.append)
    qtbot.keyClicks(window.input, "  What is the capital of Peru?  ")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    assert sent == ["What is the capital of Peru?"]
    assert window.input.toPlainText() == ""
    assert texts(window, "userText") == []  # it comes back as UserSaid, not from the box


def test_shift_enter_starts_a_new_line_and_send_button_sends(window, qtbot):
    sent = []
    window.text_submitted.connect(sent.append)
    qtbot.keyClicks(window.input, "first line")
    qtbot.keyClick(window.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(window.input, "second line")
    assert sent == []
    assert window.send_button.isEnabled()
    qtbot.mouseClick(window.send_button, Qt.MouseButton.LeftButton)
    assert sent == ["first line\nsecond line"]
    assert window.input.toPlainText() == ""


def test_empty_text_sends_nothing(window, qtbot):
    sent = []
    window.text_submitted.connect(sent.append)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.keyClicks(window.input, "   ")
    qtbot.keyClick(window.input, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)
    assert not window.send_button.isEnabled()
    qtbot.mouseClick(window.send_button, Qt.MouseButton.LeftButton)
    assert sent == []


def test_reset_button_asks_for_a_reset_and_clear_empties_the_view(window, qtbot):
    say(window, 4, "Remember my name is Ada.", ["I will,", " Ada."])
    window.on_event(Problem("the microphone stopped", "check the microphone connection"))
    assert texts(window, "userText") and texts(window, "noticeMessage")

    with qtbot.waitSignal(window.reset_requested, timeout=1000):
        qtbot.mouseClick(window.reset_button, Qt.MouseButton.LeftButton)
    window.clear()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert labels(window, "userText", "replyText", "noticeMessage", "timings") == []
    assert window.findChildren(QLabel, "replyText") == []

    # The cancelled turn's last events arrive after the reset: they belong to the forgotten exchange.
    window.on_event(ReplyFinished(4, "I will,", True))
    window.on_event(TurnTimings(4, {"first_token": 300.0}))
    assert labels(window, "replyText", "interruptedTag", "timings") == []
    say(window, 5, "Who am I?", ["I don't know yet."])
    assert labels(window, "userText", "replyText") == [("userText", "Who am I?"), ("replyText", "I don't know yet.")]


def test_two_turns_give_two_reply_bubbles_in_order(window):
    say(window, 1, "Name a planet.", ["Mars."])
    window.on_event(ReplyFinished(1, "Mars.", False))
    window.on_event(TurnTimings(1, {"first_token": 200.0}))
    say(window, 3, "Another one?", ["Jupiter", "."])  # turn numbers may skip (an interruption uses one)
    window.on_event(ReplyFinished(3, "Jupiter.", False))

    assert labels(window, "userText", "replyText") == [
        ("userText", "Name a planet."), ("replyText", "Mars."),
        ("userText", "Another one?"), ("replyText", "Jupiter.")]


def test_a_restarted_conversation_numbering_turns_from_one_gets_new_bubbles(window):
    say(window, 1, "First question?", ["First answer."])
    window.on_event(ReplyFinished(1, "First answer.", False))
    say(window, 1, "Asked after the models changed?", ["A fresh answer."])  # a new Conversation, turn 1 again
    assert labels(window, "userText", "replyText") == [
        ("userText", "First question?"), ("replyText", "First answer."),
        ("userText", "Asked after the models changed?"), ("replyText", "A fresh answer.")]


def test_a_very_long_word_wraps_inside_the_bubble(window, qtbot):
    digest = "0123456789abcdef" * 8  # no break opportunity anywhere
    window.on_event(UserSaid(1, f"Check {digest}", "en"))
    assert texts(window, "userText") == [f"Check {digest}"]
    bubble = window.findChild(QWidget, "userBubble")
    viewport = window.scroll_area.viewport()
    qtbot.waitUntil(lambda: bubble.height() > 60 and
                    bubble.mapTo(viewport, bubble.rect().bottomRight()).x() < viewport.width())


def test_status_line_follows_the_state(window):
    shown = {}
    for state in [State.IDLE, State.LISTENING, State.USER_SPEAKING, State.THINKING, State.SPEAKING, State.MUTED]:
        window.on_event(StateChanged(state))
        shown[state] = window.status.text()
    assert shown == {State.IDLE: "Idle", State.LISTENING: "Listening…", State.USER_SPEAKING: "Hearing you…",
                     State.THINKING: "Thinking…", State.SPEAKING: "Speaking…", State.MUTED: "Muted"}
    assert all(text and text != str(state) for state, text in
               ((state, (window.on_event(StateChanged(state)), window.status.text())[1]) for state in State))


def test_status_line_shows_model_loading_then_the_state_again(window):
    window.on_event(StateChanged(State.IDLE))
    window.on_event(Loading("loading whisper-base, smollm2-135m-instruct and piper-en_US-joe-medium"))
    assert window.status.text() == "Loading whisper-base, smollm2-135m-instruct and piper-en_US-joe-medium…"
    window.on_event(StateChanged(State.LISTENING))  # the conversation starts while the models still load
    assert window.status.text().startswith("Loading whisper-base")
    window.on_event(Loading("", done=True))
    assert window.status.text() == "Listening…"


def test_who_answers_is_shown_under_the_status(window):
    assert not window.answering.isVisible()  # nothing said yet: no empty line
    window.on_event(Loading("loading whisper-tiny.en, qwen2.5-coder-0.5b-instruct and piper-en_US-joe-medium"))
    window.on_event(Answering("qwen2.5-coder-0.5b-instruct on llama.cpp"))
    window.on_event(Loading("", done=True))
    window.on_event(StateChanged(State.LISTENING))
    assert window.answering.isVisible()
    assert window.answering.text() == "Answered by qwen2.5-coder-0.5b-instruct on llama.cpp"
    assert window.status.text() == "Listening…"  # a line of its own: the state stays as it was
    status, answering = window.status.mapTo(window, window.status.rect().topLeft()), \
        window.answering.mapTo(window, window.answering.rect().topLeft())
    assert answering.y() > status.y()

    # The server can't answer: a Problem, and the local model takes the turn.
    window.on_event(Problem("the chat server at http://localhost:11434/v1 is not answering (connection refused)",
                            "start the server"))
    window.on_event(Answering("qwen2.5-coder-0.5b-instruct on llama.cpp, standing in for the server"))
    assert window.answering.text().endswith("standing in for the server")
    assert "standing in for the server" in window.answering.toolTip()

    window.on_event(Loading("loading whisper-base"))  # new models: who answers is not known until they load
    assert not window.answering.isVisible()
    window.on_event(Answering("llama3.2 on the server at http://localhost:11434/v1"))
    assert window.answering.isVisible() and "llama3.2 on the server" in window.answering.text()


def test_problem_shows_an_inline_notice_with_its_fix(window):
    say(window, 1, "Hello", ["Hi!"])
    window.on_event(Problem("that turn failed: out of memory", "try again; details are in the log file"))
    assert labels(window, "replyText", "noticeMessage", "noticeFix") == [
        ("replyText", "Hi!"), ("noticeMessage", "⚠  that turn failed: out of memory"),
        ("noticeFix", "try again; details are in the log file")]


def test_follows_the_newest_message_unless_scrolled_up(window, qtbot):
    bar = window.scroll_area.verticalScrollBar()
    for turn in range(1, 13):
        say(window, turn, f"Question number {turn}?", [f"Answer number {turn}, with a few more words."])
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    assert not window.jump_button.isVisible()

    bar.setValue(0)
    filled = bar.maximum()
    say(window, 13, "One more?", ["Yes, one more answer that makes the transcript longer."])
    qtbot.waitUntil(lambda: bar.maximum() > filled)
    assert bar.value() == 0
    assert window.jump_button.isVisible()

    qtbot.mouseClick(window.jump_button, Qt.MouseButton.LeftButton)
    assert bar.value() == bar.maximum()
    say(window, 14, "And the last?", ["The last answer."])
    qtbot.waitUntil(lambda: bar.maximum() > filled and bar.value() == bar.maximum())


def missing_glyphs(label: QLabel) -> str:
    """The characters of `label`'s text that no font Qt falls back to can draw (they show as empty boxes)."""
    layout = QTextLayout(label.text(), label.font())
    layout.beginLayout()
    layout.createLine()
    layout.endLayout()
    missing = ""
    for run in layout.glyphRuns():
        if 0 in run.glyphIndexes():  # glyph 0 is a font's "missing" box
            missing += "".join(c for c in label.text() if not run.rawFont().supportsCharacter(c) and not c.isspace())
    return missing


def test_korean_and_chinese_turns_are_drawn_with_every_glyph(window, qtbot):
    say(window, 1, "내일 아침 일곱 시에 깨워 주세요.", ["네, 내일 아침 7시에", " 깨워 드릴게요."], language="ko")
    say(window, 2, "今天北京的天气怎么样？", ["今天北京晴，", "最高气温十八度。"], language="zh")
    shown = [label for label in window.findChildren(QLabel) if label.isVisibleTo(window) and label.text().strip()]
    assert {"Korean", "Chinese"} <= {label.text() for label in shown}
    assert any("깨워" in label.text() for label in shown) and any("北京" in label.text() for label in shown)
    assert {label.text(): missing_glyphs(label) for label in shown if missing_glyphs(label)} == {}


def test_screenshot_of_a_realistic_exchange(window, qtbot, screenshots):
    window.resize(440, 620)
    window.on_event(Answering("qwen2.5-coder-0.5b-instruct on llama.cpp"))
    window.on_event(StateChanged(State.LISTENING))
    say(window, 1, "What's the tallest mountain in Europe?",
        ["Mount Elbrus", " in Russia's Caucasus", " range is the tallest,", " at 5,642 metres.",
         " Mont Blanc, at 4,806 metres,", " is the highest in the Alps."])
    window.on_event(ReplyFinished(1, "Mount Elbrus in Russia's Caucasus range is the tallest, at 5,642 metres. "
                                     "Mont Blanc, at 4,806 metres, is the highest in the Alps.", False))
    window.on_event(TurnTimings(1, {"transcript": 412.0, "first_token": 655.0, "first_audio": 1034.0}))
    say(window, 2, "그럼 아프리카에서 가장 높은 산은요?",
        ["킬리만자로로,", " 탄자니아에 있고", " 높이는 5,895미터입니다.", " 화산이"], language="ko")
    window.on_event(BargeIn(2, 96.0))
    window.on_event(ReplyFinished(2, "킬리만자로로, 탄자니아에 있고 높이는 5,895미터입니다.", True))
    window.on_event(TurnTimings(2, {"transcript": 388.0, "first_token": 602.0, "first_audio": 951.0}))
    window.on_event(UserSaid(3, "谢谢！", "zh"))
    window.on_event(ReplyText(3, "不客气！"))
    window.on_event(ReplyFinished(3, "不客气！", False))
    window.on_event(TurnTimings(3, {"first_token": 290.0, "first_audio": 610.0}))
    window.input.setPlainText("How long does it take to climb it?")
    bar = window.scroll_area.verticalScrollBar()

    # Once laid out, nothing is clipped: every shown label has the height its text needs at its width.
    def clipped() -> list[str]:
        return [label.text() for label in window.findChildren(QLabel) if label.isVisibleTo(window)
                and label.wordWrap() and label.height() < label.heightForWidth(label.width())]

    qtbot.waitUntil(lambda: not clipped() and bar.value() == bar.maximum())
    user = window.findChild(QLabel, "userText")
    reply = window.findChild(QLabel, "replyText")
    assert user.mapTo(window, user.rect().topRight()).x() > reply.mapTo(window, reply.rect().topRight()).x()

    shot = screenshots / "conversation-widget.png"
    assert window.grab().save(str(shot))
    assert shot.stat().st_size > 10_000
