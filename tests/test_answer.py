"""What a turn's answer becomes (conversation/answer.py), with a scripted chat model (pure logic: which path,
what is said, what joins the history); the real models are in test_tools_live.py."""

from __future__ import annotations

import pytest

from assistant.chat.history import ChatHistory
from assistant.conversation.answer import answer, plain_words
from assistant.tools.memory import MemoryBook
from assistant.tools.timers import TimerBook
from assistant.tools.tool import Call, Tool, ToolResult
from assistant.tools.toolbox import Toolbox


class ScriptedChat:
    """Replies with the pieces it is given, in order; records what the answer path asks of it."""

    def __init__(self, *replies: list) -> None:
        self.replies = list(replies)
        self.chat_history = ChatHistory()
        self.asked: list[tuple] = []

    def reply(self, text, language=None, offer_tools=True):
        self.chat_history.begin_reply()
        self.chat_history.add_user(text)
        self.asked.append(("reply", text, offer_tools))
        return iter(self.replies.pop(0) if self.replies else [])

    def withdraw(self, text):
        self.chat_history.withdraw_user(text)

    def reply_with_result(self, call, result, language=None):
        self.asked.append(("result", call.name, result))
        return iter(self.replies.pop(0))


@pytest.fixture()
def toolbox(tmp_path):
    box = Toolbox(TimerBook(tmp_path / "t.json"), MemoryBook(tmp_path / "m.json"))
    box._builtin["order_status"] = Tool("order_status", "", {"type": "object", "properties": {}},
                                        lambda arguments, language: ToolResult("", "Order 7 arrives on Thursday."))
    box._builtin["weather"] = Tool("weather", "", {"type": "object", "properties": {}},
                                   lambda arguments, language: ToolResult("", {"city": "Paris", "sky": "clear"}))
    yield box
    box.close()


def test_a_template_command_never_asks_the_model_and_joins_the_history(toolbox):
    chat = ScriptedChat()
    assert "".join(answer(chat, toolbox, "What is 17 times 23?", None, "en")) == "17 times 23 is 391."
    assert chat.asked == [] and chat.chat_history.messages[-1].content == "What is 17 times 23?"


def test_plain_words_stream_as_they_come(toolbox):
    chat = ScriptedChat(["The ", "Pacific."])
    assert list(answer(chat, toolbox, "What is the largest ocean?", None, "en")) == ["The ", "Pacific."]


def test_a_models_call_is_run_and_its_own_words_said(toolbox):
    chat = ScriptedChat([Call("calculate", {"expression": "48*365"})])
    assert "".join(answer(chat, toolbox, "multiply 48 by 365 please", None, "en")) == "48 times 365 is 17,520."


def test_a_sentence_from_a_tool_is_said_as_it_is(toolbox):
    chat = ScriptedChat([Call("order_status", {})])
    assert "".join(answer(chat, toolbox, "where is my order", None, "en")) == "Order 7 arrives on Thursday."
    assert [a[0] for a in chat.asked] == ["reply"]


def test_data_from_a_tool_is_put_into_words_by_the_model(toolbox):
    chat = ScriptedChat([Call("weather", {})], ["It is clear in Paris."])
    assert "".join(answer(chat, toolbox, "weather?", None, "en")) == "It is clear in Paris."
    assert chat.asked[1] == ("result", "weather", '{"city": "Paris", "sky": "clear"}')


def test_a_model_that_calls_again_instead_of_answering_gets_the_data_said_plainly(toolbox):
    chat = ScriptedChat([Call("weather", {})], ['{"name": "weather", "arguments": {}}'])
    assert "".join(answer(chat, toolbox, "weather?", None, "en")) == "city Paris, sky clear."


def test_a_made_up_tool_with_an_answer_inside_says_the_answer(toolbox):
    chat = ScriptedChat([Call("cat_joke", {"message": "Why did the cat sit on the computer? To keep an eye on the mouse."})])
    assert "".join(answer(chat, toolbox, "tell me a cat joke", None, "en")).startswith("Why did the cat")


def test_nothing_at_all_is_asked_again_without_tools_then_a_word_rather_than_silence(toolbox):
    chat = ScriptedChat([], ["Fine, thanks."])
    assert "".join(answer(chat, toolbox, "How are you?", None, "en")) == "Fine, thanks."
    assert chat.asked == [("reply", "How are you?", True), ("reply", "How are you?", False)]
    assert [m.content for m in chat.chat_history.messages] == ["How are you?"]  # (once)
    assert "".join(answer(ScriptedChat([], []), toolbox, "hm", None, "ko")) == "죄송해요, 답을 못 찾았어요."


def test_plain_words_of_nested_data():
    assert plain_words('{"time_zone": "Asia/Tokyo", "days": [1, 2]}') == "time zone Asia/Tokyo, days 1, 2."


def test_a_made_up_tool_without_an_answer_is_told_so_and_the_model_answers(toolbox):
    chat = ScriptedChat([Call("get_author", {"book": "Hamlet"})], ["Shakespeare wrote it."])
    assert "".join(answer(chat, toolbox, "Who wrote Hamlet?", None, "en")) == "Shakespeare wrote it."
    assert chat.asked[1][:2] == ("result", "get_author") and "no tool called get_author" in chat.asked[1][2]


def test_a_tool_the_request_does_not_ask_for_is_not_run(toolbox):
    chat = ScriptedChat([Call("get_time", {})], ["A spider has eight legs."])
    assert "".join(answer(chat, toolbox, "How many legs does a spider have?", None, "en")) == "A spider has eight legs."
    assert "did not ask for get_time" in chat.asked[1][2]


def test_a_command_of_a_turn_that_may_go_on_waits_and_is_dropped_with_it(toolbox):
    verdicts = iter([None, None, False])
    said = "".join(answer(ScriptedChat(), toolbox, "Set a timer for 5 minutes.", None, "en",
                          may_act=lambda: next(verdicts)))
    assert said == "" and toolbox.timers.running() == []  # "set a timer for five… no, ten": one timer, not two
    verdicts = iter([None, True])
    said = "".join(answer(ScriptedChat(), toolbox, "Set a timer for 5 minutes.", None, "en",
                          may_act=lambda: next(verdicts)))
    assert said == "Timer set for 5 minutes." and len(toolbox.timers.running()) == 1
    # A question that changes nothing is answered at once, at the pause, as any reply.
    assert "".join(answer(ScriptedChat(), toolbox, "What is 17 times 23?", None, "en", may_act=lambda: None)) == \
        "17 times 23 is 391."
