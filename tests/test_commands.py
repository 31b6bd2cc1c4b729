"""The sentence templates (hassil) of the spoken commands, in English, Korean and Chinese: every command of the
benchmark's request set is matched to its tool with the right arguments, and nothing else is."""

from __future__ import annotations

import pytest

from assistant.chat.tool_calls import read_calls
from assistant.tools.commands import CommandMatcher
from assistant.tools.spoken_math import arithmetic
from benchmarks.tool_requests import REQUESTS, arguments_right

MATCHER = CommandMatcher()


@pytest.mark.parametrize("request_", [r for r in REQUESTS if r.route == "template"], ids=lambda r: r.text)
def test_commands_match_their_tool_and_arguments(request_):
    call = MATCHER.match(request_.text, request_.language)
    assert call is not None and call.name == request_.tool, call
    assert arguments_right(request_, call.arguments), call.arguments


@pytest.mark.parametrize("request_", [r for r in REQUESTS if r.route != "template"], ids=lambda r: r.text)
def test_other_requests_are_left_to_the_chat_model(request_):
    assert MATCHER.match(request_.text, request_.language) is None


@pytest.mark.parametrize("said, expression", [
    ("seventeen times twenty-three", "17 * 23"), ("12 곱하기 7", "12 * 7"), ("十七乘以二十三", "17*23"),
    ("the square root of 144", "sqrt(144)"), ("the capital of France", None), ("5", None), ("a good day", None),
])
def test_spoken_sums(said, expression):
    assert arithmetic(said, "en" if said.isascii() else "") == expression


def test_the_language_of_a_sentence_is_its_script():
    assert MATCHER.match("지금 몇 시야?", "en").name == "get_time"  # (the setting says English; the words are Korean)
    assert MATCHER.match("现在几点了？", None).name == "get_time"


@pytest.mark.parametrize("pieces, expected", [
    (['{"name": "calc', 'ulate", "arguments": {"expression": "17*23"}}'], ("calculate", {"expression": "17*23"})),
    (['```json\n{"name": "set_timer",', ' "arguments": {"duration": "5 minutes"}}\n```'],
     ("set_timer", {"duration": "5 minutes"})),
    (['<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>'], ("get_time", {})),
    (['<tools></tools>\n{"name": "get_date", "arguments": "{}"}'], ("get_date", {})),
    ([{"index": 0, "function": {"name": "get_time", "arguments": ""}}, {"index": 0, "function": {"arguments": "{}"}}],
     ("get_time", {})),
    (['set', '_timer(duration="7 minutes", name="eggs")'], ("set_timer", {"duration": "7 minutes", "name": "eggs"})),
    (['{{"name": "get_date", "arguments": {}}}}'], ("get_date", {})),
])
def test_tool_calls_are_read_however_the_model_writes_them(pieces, expected):
    out = list(read_calls(iter(pieces), {"calculate", "set_timer", "get_time", "get_date"}))
    assert len(out) == 1 and (out[0].name, out[0].arguments) == expected


def test_text_streams_on_at_once_and_json_that_is_no_call_is_said():
    assert list(read_calls(iter(["The", " Pacific", "."]), {"get_time"})) == ["The", " Pacific", "."]
    assert list(read_calls(iter(['{"a": 1}']), {"get_time"})) == ['{"a": 1}']
    assert list(read_calls(iter(["<tools></tools>"]), {"get_time"})) == []
