"""What the tools say, in English, Korean and Chinese (other languages hear English): sentences, durations, clock
times, dates and numbers as a person says them."""

from __future__ import annotations

import datetime as dt
import re
from fractions import Fraction

LANGUAGES = ("en", "ko", "zh")

_SENTENCES = {
    "timer_set": {"en": "Timer set for {duration}.", "ko": "{duration} 타이머를 맞췄어요.",
                  "zh": "好的，{duration}的计时器开始了。"},
    "named_timer_set": {"en": "{name} timer set for {duration}.", "ko": "{name} 타이머를 {duration}(로) 맞췄어요.",
                        "zh": "好的，{name}计时器{duration}，开始了。"},
    "alarm_set": {"en": "Alarm set for {time}.", "ko": "{time}에 알람을 맞췄어요.", "zh": "好的，闹钟定在{time}。"},
    "timer_done": {"en": "Your {duration} timer is done.", "ko": "{duration} 타이머가 끝났어요.",
                   "zh": "{duration}的计时器时间到了。"},
    "named_timer_done": {"en": "Your {name} timer is done.", "ko": "{name} 타이머가 끝났어요.",
                         "zh": "{name}计时器时间到了。"},
    "alarm_done": {"en": "It's {time}: your alarm.", "ko": "{time}(이에요). 알람이 울려요.", "zh": "{time}到了，闹钟响了。"},
    "no_timers": {"en": "No timers or alarms are running.", "ko": "맞춰 둔 타이머나 알람이 없어요.",
                  "zh": "现在没有计时器或闹钟。"},
    "timers_running": {"en": "{count} running: {items}.", "ko": "{count}개 있어요: {items}.",
                       "zh": "有{count}个：{items}。"},
    "timer_left": {"en": "{what} with {left} left", "ko": "{what} {left} 남음", "zh": "{what}还剩{left}"},
    "alarm_at": {"en": "an alarm at {time}", "ko": "{time} 알람", "zh": "{time}的闹钟"},
    "a_timer": {"en": "{article} {duration} timer", "ko": "{duration} 타이머", "zh": "{duration}的计时器"},
    "a_named_timer": {"en": "the {name} timer", "ko": "{name} 타이머", "zh": "{name}计时器"},
    "cancelled": {"en": "Cancelled {what}.", "ko": "{what}(를) 취소했어요.", "zh": "已取消{what}。"},
    "cancelled_all": {"en": "Cancelled all {count}.", "ko": "{count}개 모두 취소했어요.", "zh": "已全部取消，共{count}个。"},
    "no_such_timer": {"en": "There is no {name} timer.", "ko": "{name} 타이머는 없어요.", "zh": "没有{name}计时器。"},
    "bad_duration": {"en": "A timer needs a length above zero and under a day; say for example five minutes.",
                     "ko": "타이머는 0보다 길고 하루보다 짧아야 해요. 예를 들어 5분이라고 말해 주세요.",
                     "zh": "计时器的时长要大于零、小于一天，比如说五分钟。"},
    "bad_time": {"en": "I didn't get the time for the alarm; say for example seven thirty a.m.",
                 "ko": "알람 시간을 못 알아들었어요. 예를 들어 오전 7시 30분이라고 말해 주세요.",
                 "zh": "没听清闹钟的时间，比如说早上七点半。"},
    "time_now": {"en": "It's {time}.", "ko": "지금은 {time}(이에요).", "zh": "现在是{time}。"},
    "date_today": {"en": "Today is {date}.", "ko": "오늘은 {date}(이에요).", "zh": "今天是{date}。"},
    "result": {"en": "{expression} is {value}.", "ko": "{expression}(은) {value}(이에요).", "zh": "{expression}等于{value}。"},
    "bad_expression": {"en": "I can't work that out: {why}.", "ko": "계산할 수 없어요: {why}.", "zh": "没法计算：{why}。"},
    "converted": {"en": "{amount} is {result}.", "ko": "{amount}(은) {result}(이에요).", "zh": "{amount}等于{result}。"},
    "bad_units": {"en": "I can't convert {from_unit} to {to_unit}.", "ko": "{from_unit}(를) {to_unit}(로) 바꿀 수 없어요.",
                  "zh": "没法把{from_unit}换算成{to_unit}。"},
    "remembered": {"en": "I'll remember that {fact}.", "ko": "기억할게요: {fact}.", "zh": "好的，我记住了：{fact}。"},
    "memory_empty": {"en": "I don't remember anything yet.", "ko": "아직 기억하는 게 없어요.", "zh": "我还没有记住任何事情。"},
    "memory_list": {"en": "I remember that {facts}.", "ko": "기억하는 것: {facts}.", "zh": "我记得：{facts}。"},
    "forgot": {"en": "Forgotten: {fact}.", "ko": "잊었어요: {fact}.", "zh": "已忘记：{fact}。"},
    "forgot_all": {"en": "I've forgotten all {count} things.", "ko": "{count}개를 모두 잊었어요.",
                   "zh": "已经全部忘记了，共{count}条。"},
    "nothing_to_forget": {"en": "I don't remember anything about {what}.", "ko": "{what}에 대해 기억하는 게 없어요.",
                          "zh": "我没有记住关于{what}的事情。"},
    "opened": {"en": "Opening {what}.", "ko": "{what}(를) 열게요.", "zh": "正在打开{what}。"},
    "cannot_open": {"en": "I couldn't open {what}: {why}.", "ko": "{what}(를) 열 수 없어요: {why}.",
                    "zh": "打不开{what}：{why}。"},
    "tool_failed": {"en": "That didn't work: {why}.", "ko": "잘 안 됐어요: {why}.", "zh": "没有成功：{why}。"},
    "no_answer": {"en": "Sorry, I have no answer to that.", "ko": "죄송해요, 답을 못 찾았어요.",
                  "zh": "抱歉，我答不上来。"},
    "tool_declined": {"en": "All right, I won't.", "ko": "알겠어요, 하지 않을게요.", "zh": "好的，那就不做了。"},
    "tool_timed_out": {"en": "{server} did not answer in time.", "ko": "{server}(가) 제때 답하지 않았어요.",
                       "zh": "{server}没有及时回应。"},
}


def language_of(language: str | None) -> str:
    """The phrase language for a turn's language: en, ko or zh (others hear English)."""
    return language if language in LANGUAGES else "en"


def say(key: str, language: str | None, **values) -> str:
    """Sentence `key` in `language`, filled in with `values`."""
    text = _SENTENCES[key][language_of(language)].format(**values)
    if text.endswith("."):  # a sentence (the others are pieces of one)
        text = text[:1].upper() + text[1:]
    return _KOREAN_PARTICLE.sub(_particle, text) if language_of(language) == "ko" else text


# A Korean particle's form depends on whether the word before it ends in a consonant: "(은)" becomes 은 or 는.
_PARTICLES = {"은": ("은", "는"), "를": ("을", "를"), "가": ("이", "가"), "이에요": ("이에요", "예요"), "로": ("으로", "로")}
_KOREAN_PARTICLE = re.compile(r"\((은|를|가|이에요|로)\)")
# How a written digit or unit is read in Korean, for its final consonant: 1 일, 3 삼, 6 육, 7 칠, 8 팔, 0 십/백/천/만.
_DIGIT_ENDS = {"0": "십", "1": "일", "2": "이", "3": "삼", "4": "사", "5": "오", "6": "육", "7": "칠", "8": "팔",
               "9": "구"}
_SYMBOL_ENDS = {"%": "트", "℃": "도", "°": "도"}


def _particle(match: re.Match) -> str:
    before = match.string[: match.start()].rstrip(" .")
    last = before[-1:] if before else ""
    if last.isdigit():
        zeros = len(before) - len(before.rstrip("0"))
        last = {0: _DIGIT_ENDS[last], 1: "십", 2: "백", 3: "천"}.get(zeros, "만")
    last = _SYMBOL_ENDS.get(last, last)
    if last.isascii() and last.isalpha():  # a Latin word: by its sound, roughly (km 킬로미터 -> no consonant)
        last = "터" if last.lower() in "aeiouyhkmrtw" else "름"
    final = (ord(last) - 0xAC00) % 28 if "가" <= last <= "힣" else 0
    consonant, vowel = _PARTICLES[match.group(1)]
    if match.group(1) == "로" and final == 8:  # ㄹ takes 로, like a vowel
        return vowel
    return consonant if final else vowel


def number(value: Fraction | float | int, language: str | None = None) -> str:
    """A number as it is read out: whole numbers whole, others to at most 6 significant digits, no trailing zeros."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return f"{value.numerator:,}" if language_of(language) == "en" else str(value.numerator)
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}" if language_of(language) == "en" else str(int(value))
    text = f"{value:.6g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa} times 10 to the {int(exponent)}" if language_of(language) == "en" else f"{mantissa}×10^{int(exponent)}"
    return text


def duration(seconds: int, language: str | None, adjective: bool = False) -> str:
    """5 minutes, 1 hour and 30 minutes; 5분, 1시간 30분; 5分钟, 1小时30分钟. `adjective`: "a 5 minute timer"."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    lang = language_of(language)
    if lang == "ko":
        units = (("시간", hours), ("분", minutes), ("초", secs))
        return " ".join(f"{n}{unit}" for unit, n in units if n) or "0초"
    if lang == "zh":
        units = (("小时", hours), ("分钟", minutes), ("秒", secs))
        return "".join(f"{n}{unit}" for unit, n in units if n) or "0秒"
    parts = [f"{n} {unit}{'' if n == 1 or adjective else 's'}" for unit, n in (("hour", hours), ("minute", minutes), ("second", secs))
             if n]
    if not parts:
        return "0 seconds"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def clock_time(moment: dt.datetime | dt.time, language: str | None) -> str:
    """3:05 PM; 오후 3시 5분; 下午3点05分."""
    hour, minute = moment.hour, moment.minute
    twelve = hour % 12 or 12
    lang = language_of(language)
    if lang == "ko":
        return f"{'오전' if hour < 12 else '오후'} {twelve}시" + (f" {minute}분" if minute else "")
    if lang == "zh":
        period = "凌晨" if hour < 6 else "上午" if hour < 12 else "中午" if hour < 13 else "下午" if hour < 18 else "晚上"
        return f"{period}{twelve}点" + (f"{minute:02d}分" if minute else "整")
    return f"{twelve}:{minute:02d} {'AM' if hour < 12 else 'PM'}"


_WEEKDAYS = {"ko": "월화수목금토일", "zh": "一二三四五六日"}


def date(day: dt.date, language: str | None) -> str:
    """Monday, December 7, 2026; 2026년 12월 7일 월요일; 2026年12月7日，星期一."""
    lang = language_of(language)
    weekday = day.weekday()
    if lang == "ko":
        return f"{day.year}년 {day.month}월 {day.day}일 {_WEEKDAYS['ko'][weekday]}요일"
    if lang == "zh":
        return f"{day.year}年{day.month}月{day.day}日，星期{_WEEKDAYS['zh'][weekday]}"
    return f"{day.strftime('%A, %B')} {day.day}, {day.year}"
