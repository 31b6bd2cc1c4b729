"""The fixed request set of `parley bench tools`: spoken-style requests in English, Korean and Chinese, each with
the tool it needs (None: a plain question, which must call none) and a check of its arguments. `route` says which
path should serve it: "template" (the sentence templates), "model" (phrased so the templates do not know it: the
chat model must choose the tool) or "plain". Run in order: later requests use the timers and facts of earlier."""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.tools.arithmetic import evaluate
from assistant.tools.timers import alarm_time, timer_length_s
from assistant.tools.units import find_unit


@dataclass(frozen=True)
class Request:
    text: str
    language: str
    tool: str | None
    route: str  # "template", "model" or "plain"
    expect: dict = field(default_factory=dict)


def arguments_right(request: Request, arguments: dict) -> bool:
    """Whether a call's `arguments` do what `request` asked."""
    expect = request.expect
    try:
        if "seconds" in expect:
            return round(timer_length_s(arguments)) == expect["seconds"] and (
                "name" not in expect or expect["name"] in str(arguments.get("name", "")).lower())
        if "time" in expect:
            return alarm_time(str(arguments["time"])).strftime("%H:%M") == expect["time"]
        if "value" in expect and "from" not in expect:
            return abs(float(evaluate(str(arguments["expression"]))) - expect["value"]) < 1e-6
        if "from" in expect:
            return (find_unit(arguments["from_unit"]) == expect["from"] and find_unit(arguments["to_unit"]) ==
                    expect["to"] and abs(float(arguments["value"]) - expect["amount"]) < 1e-6)
        if "contains" in expect:
            return expect["contains"] in " ".join(str(v) for v in arguments.values()).lower()
    except (KeyError, ValueError, TypeError, ZeroDivisionError):
        return False
    return True


def _t(text, language, tool, route="template", **expect) -> Request:
    return Request(text, language, tool, route, expect)


REQUESTS = [
    # English, matched by the templates
    _t("Set a timer for 5 minutes.", "en", "set_timer", seconds=300),
    _t("Set a pasta timer for 10 minutes.", "en", "set_timer", seconds=600, name="pasta"),
    _t("Start a 20 minute timer.", "en", "set_timer", seconds=1200),
    _t("Set a timer for 1 hour and 30 minutes.", "en", "set_timer", seconds=5400),
    _t("Set a timer for 45 seconds.", "en", "set_timer", seconds=45),
    _t("Set a timer for three minutes.", "en", "set_timer", seconds=180),
    _t("Set a timer for minus five minutes.", "en", "set_timer"),
    _t("What time is it?", "en", "get_time"),
    _t("What's the date today?", "en", "get_date"),
    _t("What day is it today?", "en", "get_date"),
    _t("Set an alarm for 7:30 a.m.", "en", "set_alarm", time="07:30"),
    _t("Wake me up at 6 pm.", "en", "set_alarm", time="18:00"),
    _t("How much time is left on my timer?", "en", "list_timers"),
    _t("Cancel the pasta timer.", "en", "cancel_timer", contains="pasta"),
    _t("What is 17 times 23?", "en", "calculate", value=391),
    _t("What's 1,234 plus 5,678?", "en", "calculate", value=6912),
    _t("What is 144 divided by 12?", "en", "calculate", value=12),
    _t("What is 2 to the power of 10?", "en", "calculate", value=1024),
    _t("What's 15 percent of 80?", "en", "calculate", value=12),
    _t("Convert 5 miles to kilometers.", "en", "convert_units", amount=5, **{"from": "mi", "to": "km"}),
    _t("How many ounces in a pound?", "en", "convert_units", amount=1, **{"from": "lb", "to": "oz"}),
    _t("What's 100 Fahrenheit in Celsius?", "en", "convert_units", amount=100, **{"from": "f", "to": "c"}),
    _t("Remember that my car is parked on level 2.", "en", "remember", contains="level 2"),
    _t("What do you remember?", "en", "recall"),
    _t("Forget about my car.", "en", "forget", contains="car"),
    _t("Open example.com", "en", "open", contains="example.com"),
    _t("Cancel all timers.", "en", "cancel_timer"),
    # English, for the chat model to choose the tool
    _t("I need to boil eggs, could you count down seven minutes for me?", "en", "set_timer", "model", seconds=420),
    _t("Give me a heads-up when twenty minutes have passed.", "en", "set_timer", "model", seconds=1200),
    _t("Roughly how many kilometers is a 26.2 mile marathon?", "en", "convert_units", "model", amount=26.2,
       **{"from": "mi", "to": "km"}),
    _t("Could you multiply 48 by 365 for me?", "en", "calculate", "model", value=17520),
    _t("I spent 23 dollars and then 17 dollars, what's the total?", "en", "calculate", "model", value=40),
    _t("Please keep in mind that my sister's birthday is on May 3rd.", "en", "remember", "model", contains="may"),
    _t("Do you happen to know the current time?", "en", "get_time", "model"),
    _t("I'd like to be woken at 6:45 tomorrow morning.", "en", "set_alarm", "model", time="06:45"),
    _t("How heavy is 150 pounds in kilograms?", "en", "convert_units", "model", amount=150,
       **{"from": "lb", "to": "kg"}),
    _t("Drop every timer I have running.", "en", "cancel_timer", "model"),
    _t("Which weekday is it?", "en", "get_date", "model"),
    # English, plain questions: no tool
    _t("What is the largest ocean on Earth?", "en", None, "plain"),
    _t("Who wrote Romeo and Juliet?", "en", None, "plain"),
    _t("Tell me a joke about cats.", "en", None, "plain"),
    _t("How do I make a cup of tea?", "en", None, "plain"),
    _t("What's the capital of France?", "en", None, "plain"),
    _t("Why is the sky blue?", "en", None, "plain"),
    _t("Can you recommend a good book?", "en", None, "plain"),
    _t("How are you today?", "en", None, "plain"),
    _t("What is a kitchen timer used for?", "en", None, "plain"),
    _t("Who invented the telephone?", "en", None, "plain"),
    _t("What does a calculator do?", "en", None, "plain"),
    # Korean
    _t("5분 타이머 맞춰 줘", "ko", "set_timer", seconds=300),
    _t("다섯 분 타이머 맞춰 줘", "ko", "set_timer", seconds=300),
    _t("라면 타이머 3분으로 맞춰 줘", "ko", "set_timer", seconds=180, name="라면"),
    _t("지금 몇 시야?", "ko", "get_time"),
    _t("오늘 며칠이야?", "ko", "get_date"),
    _t("17 곱하기 23은 얼마야?", "ko", "calculate", value=391),
    _t("5마일은 몇 킬로미터야?", "ko", "convert_units", amount=5, **{"from": "mi", "to": "km"}),
    _t("내 차는 지하 2층에 있다고 기억해 줘", "ko", "remember", contains="2층"),
    _t("뭘 기억하고 있어?", "ko", "recall"),
    _t("오전 7시 30분에 알람 맞춰 줘", "ko", "set_alarm", time="07:30"),
    _t("타이머 얼마나 남았어?", "ko", "list_timers"),
    _t("타이머 취소해 줘", "ko", "cancel_timer"),
    _t("계란 삶게 7분 뒤에 알려 줄래?", "ko", "set_timer", "model", seconds=420),
    _t("48에 365를 곱하면 얼마야?", "ko", "calculate", "model", value=17520),
    _t("한국의 수도는 어디인가요?", "ko", None, "plain"),
    _t("하늘은 왜 파란가요?", "ko", None, "plain"),
    _t("좋은 책 한 권 추천해 줄래?", "ko", None, "plain"),
    # Chinese
    _t("设置一个五分钟的计时器。", "zh", "set_timer", seconds=300),
    _t("设一个10分钟的定时器", "zh", "set_timer", seconds=600),
    _t("现在几点了？", "zh", "get_time"),
    _t("今天几号？", "zh", "get_date"),
    _t("十七乘以二十三等于多少？", "zh", "calculate", value=391),
    _t("一百除以四等于多少", "zh", "calculate", value=25),
    _t("5英里等于多少公里？", "zh", "convert_units", amount=5, **{"from": "mi", "to": "km"}),
    _t("记住我的车停在B2层", "zh", "remember", contains="b2"),
    _t("你记得什么？", "zh", "recall"),
    _t("明天早上七点半的闹钟", "zh", "set_alarm", time="07:30"),
    _t("计时器还剩多少时间？", "zh", "list_timers"),
    _t("取消计时器", "zh", "cancel_timer"),
    _t("煮鸡蛋要七分钟，到时候提醒我", "zh", "set_timer", "model", seconds=420),
    _t("四十八和三百六十五的乘积是多少", "zh", "calculate", "model", value=17520),
    _t("中国的首都是哪里？", "zh", None, "plain"),
    _t("天空为什么是蓝色的？", "zh", None, "plain"),
    _t("给我讲个笑话", "zh", None, "plain"),
]
