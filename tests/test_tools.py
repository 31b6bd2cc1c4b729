"""The built-in tools without a model: exact sums, units, timers (with a real ringing thread and file), memory,
the spoken phrases, and the toolbox's handling of bad calls."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest

from assistant.tools import arithmetic, phrases, units
from assistant.tools.memory import MemoryBook, memory_tools
from assistant.tools.timers import Timer, TimerBook, alarm_time, duration_s, timer_tools
from assistant.tools.tool import Call, ToolError, check_arguments
from assistant.tools.toolbox import Toolbox


@pytest.fixture()
def toolbox(tmp_path):
    box = Toolbox(TimerBook(tmp_path / "timers.json"), MemoryBook(tmp_path / "memory.json"))
    yield box
    box.close()


@pytest.mark.parametrize("expression, value", [
    ("17*23", 391), ("17 x 23", 391), ("(2+3)/4", 1.25), ("2^10", 1024), ("1,234 + 5", 1239), ("15% * 80", 12),
    ("sqrt(144)", 12), ("-5*3", -15), ("0.1 + 0.2", 0.3),
])
def test_arithmetic_is_exact(expression, value):
    assert arithmetic.evaluate(expression) == pytest.approx(value, abs=0) if isinstance(value, int) else \
        float(arithmetic.evaluate(expression)) == value


@pytest.mark.parametrize("expression", ["10/0", "__import__('os').system('true')", "2**100000", "abc", "(-8)**0.5"])
def test_arithmetic_refuses_what_it_does_not_work_out(expression):
    with pytest.raises(arithmetic.BadExpression):
        arithmetic.evaluate(expression)


def test_sums_are_said_in_the_turns_language(toolbox):
    said = {lang: toolbox.run(Call("calculate", {"expression": "17*23"}), lang).said for lang in ("en", "ko", "zh")}
    assert said == {"en": "17 times 23 is 391.", "ko": "17 곱하기 23은 391이에요.", "zh": "17乘以23等于391。"}


@pytest.mark.parametrize("value, source, target, expected", [
    (5, "miles", "km", 8.04672), (100, "F", "celsius", 37.7778), (0, "°C", "fahrenheit", 32), (1, "lb", "ounces", 16),
    (30, "평", "m2", 99.1736), (5, "英里", "公里", 8.04672), (1, "킬로그램", "파운드", 2.20462),
])
def test_units_convert_by_their_definitions(value, source, target, expected):
    result = units.convert(units.Fraction(value), units.find_unit(source), units.find_unit(target))
    assert float(result) == pytest.approx(expected, rel=1e-5)


def test_units_of_different_kinds_are_refused_in_words(toolbox):
    result = toolbox.run(Call("convert_units", {"value": 5, "from_unit": "kg", "to_unit": "miles"}), "en")
    assert result.failed and result.said == "I can't convert kg to miles."


@pytest.mark.parametrize("said, seconds", [
    ("7 minutes", 420), ("seven minutes", 420), ("1 hour 30 minutes", 5400), ("half an hour", 1800),
    ("an hour and a half", 5400), ("五分钟", 300), ("两个小时", 7200), ("3분 30초", 210), ("minus 5 minutes", -300),
])
def test_durations_as_said(said, seconds):
    assert duration_s(said) == seconds


@pytest.mark.parametrize("said, clock", [
    ("07:30", "07:30"), ("7:30 p.m.", "19:30"), ("6 pm", "18:00"), ("오전 7시 30분", "07:30"), ("오후 7시 반", "19:30"),
    ("早上七点半", "07:30"), ("下午三点一刻", "15:15"), ("12:00 a.m.", "00:00"),
])
def test_alarm_times_as_said(said, clock):
    now = dt.datetime(2026, 12, 7, 10, 0).astimezone()
    at = alarm_time(said, now)
    assert at.strftime("%H:%M") == clock and now < at <= now + dt.timedelta(days=1)


def test_a_timer_rings_once_on_time_and_survives_a_restart(tmp_path):
    rung: list[tuple[Timer, float]] = []
    done = threading.Event()
    first = TimerBook(tmp_path / "timers.json")
    tools = {tool.name: tool for tool in timer_tools(first)}
    assert tools["set_timer"].handler({"duration": "1 second", "name": "tea"}, "en").said == \
        "Tea timer set for 1 second."
    tools["set_timer"].handler({"minutes": 5}, "ko")
    # A new process (a restart) reads the same file, and rings the timer that ends while it runs.
    second = TimerBook(tmp_path / "timers.json", on_ring=lambda t: (rung.append((t, time.time())), done.set()))
    second.start()
    try:
        assert done.wait(10)
        timer, at = rung[0]
        assert timer.name == "tea" and timer.ringing_words() == "Your tea timer is done."
        assert at >= timer.ends_at
        assert [t.seconds for t in second.running()] == [300]  # the other one still runs
        assert [t.seconds for t in first.running()] == [300]  # and every process sees the same list
    finally:
        second.close()
    assert len(rung) == 1


def test_two_processes_never_ring_one_timer_twice(tmp_path):
    rings: list[str] = []
    books = [TimerBook(tmp_path / "timers.json", on_ring=lambda t, n=n: rings.append(n)) for n in range(3)]
    books[0].add(Timer("x", "timer", time.time() + 0.3, 1))
    for book in books:
        book.start()
    deadline = time.time() + 5
    while not rings and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.2)  # (each book looks at the file every second: the others had their chance)
    for book in books:
        book.close()
    assert len(rings) == 1


def test_bad_timers_are_refused_in_words_and_nothing_is_set(tmp_path):
    book = TimerBook(tmp_path / "timers.json")
    set_timer = {tool.name: tool for tool in timer_tools(book)}["set_timer"]
    for arguments in ({"minutes": -5}, {"duration": "minus five minutes"}, {"seconds": 0}, {"hours": 48}):
        with pytest.raises(ToolError, match="above zero"):
            set_timer.handler(arguments, "en")
    assert book.running() == []


def test_a_damaged_timers_file_is_set_aside(tmp_path):
    path = tmp_path / "timers.json"
    path.write_text("{not json", encoding="utf-8")
    assert TimerBook(path).running() == []
    assert list(tmp_path.glob("timers.broken-*.json"))


def test_a_length_in_words_where_a_number_was_wanted(toolbox):
    assert toolbox.run(Call("set_timer", {"minutes": "five"}), "en").said == "Timer set for 5 minutes."


def test_listing_and_cancelling_by_name(toolbox):
    toolbox.run(Call("set_timer", {"duration": "10 minutes", "name": "pasta"}), "en")
    toolbox.run(Call("set_timer", {"duration": "5 minutes"}), "en")
    listed = toolbox.run(Call("list_timers"), "en").said
    assert listed.startswith("2 running: a 5 minute timer with") and "the pasta timer with" in listed
    assert toolbox.run(Call("cancel_timer", {"name": "Pasta"}), "en").said == "Cancelled the pasta timer."
    assert toolbox.run(Call("cancel_timer", {}), "en").said == "Cancelled a 5 minute timer."
    assert toolbox.run(Call("list_timers"), "en").said == "No timers or alarms are running."


def test_memory_is_kept_said_and_forgotten(tmp_path):
    book = MemoryBook(tmp_path / "memory.json")
    tools = {tool.name: tool for tool in memory_tools(book)}
    tools["remember"].handler({"fact": "my car is parked on level 2."}, "en")
    tools["remember"].handler({"fact": "我的猫叫小白"}, "zh")
    again = MemoryBook(tmp_path / "memory.json")  # a restart
    assert again.facts() == ["my car is parked on level 2", "我的猫叫小白"]
    assert "my car is parked on level 2" in again.prompt_text()
    assert tools["forget"].handler({"about": "the car"}, "en").said == "Forgotten: my car is parked on level 2."
    assert tools["forget"].handler({"about": "dog"}, "en").said == "I don't remember anything about dog."
    assert json.loads((tmp_path / "memory.json").read_text(encoding="utf-8")) == {"facts": ["我的猫叫小白"]}


@pytest.mark.parametrize("call, says", [
    (Call("convert_units", {"value": "five", "from_unit": "km", "to_unit": "mi"}),
     "That didn't work: the request was incomplete (value must be a number"),
    (Call("set_alarm", {"time": 7}), "That didn't work: the request was incomplete (time must be of type string"),
    (Call("calculate", {}), "That didn't work: the request was incomplete (missing expression)."),
    (Call("weather", {"city": "Seoul"}), "That didn't work: there is no tool called weather."),
])
def test_wrong_calls_get_a_clear_answer(toolbox, call, says):
    result = toolbox.run(call, "en")
    assert result.failed and result.said.startswith(says)


def test_a_tool_that_throws_is_said_and_logged(toolbox, caplog):
    def broken(arguments, language):
        raise RuntimeError("disk on fire")

    toolbox._builtin["get_time"] = toolbox._builtin["get_time"].__class__("get_time", "", {}, broken)
    result = toolbox.run(Call("get_time"), "en")
    assert result.failed and result.said == "That didn't work: disk on fire."
    assert "tool get_time failed" in caplog.text


def test_made_up_tool_names_are_taken_for_the_built_in_ones(toolbox):
    assert toolbox.resolve(Call("multiply", {"expression": "48*365"})).name == "calculate"
    assert toolbox.resolve(Call("drop_timers", {})).name == "cancel_timer"
    assert toolbox.resolve(Call("cat_joke", {"message": "Why did the cat..."})) is None


def test_arguments_are_checked_and_coerced():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "kind": {"type": "string", "enum": ["a"]}},
              "required": ["n"]}
    assert check_arguments(schema, {"n": "5", "extra": 1, "properties": {}, "type": "object"}) == {"n": 5, "extra": 1}
    with pytest.raises(ValueError, match="missing n"):
        check_arguments(schema, {})
    with pytest.raises(ValueError, match="kind must be one of"):
        check_arguments(schema, {"n": 1, "kind": "b"})


def test_korean_particles_follow_the_word_before():
    assert phrases.say("time_now", "ko", time="오후 3시") == "지금은 오후 3시예요."
    assert phrases.say("time_now", "ko", time="오후 3시 5분") == "지금은 오후 3시 5분이에요."
    assert phrases.say("named_timer_set", "ko", name="라면", duration="3분") == "라면 타이머를 3분으로 맞췄어요."
    assert phrases.say("converted", "ko", amount="1 파운드", result="0.45 킬로그램") == "1 파운드는 0.45 킬로그램이에요."
