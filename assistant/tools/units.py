"""Unit conversion, exact to the definitions (an inch is 2.54 cm exactly), with unit names in English, Korean and
Chinese. Written here rather than with `pint`: the ~40 units people convert aloud need names in three languages
that pint lacks, and importing pint's registry took ~0.5 s, longer than any conversion should."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from assistant.tools import phrases
from assistant.tools.tool import Tool, ToolError, ToolResult, parameters


@dataclass(frozen=True)
class Unit:
    """A unit of `kind`, worth `factor` of the kind's base unit (or, for temperatures, `offset` added first)."""

    kind: str
    factor: Fraction
    names: dict[str, tuple[str, str]]  # language -> (singular, plural) as said
    offset: Fraction = Fraction(0)


def _u(kind: str, factor, en: str, ko: str, zh: str, plural: str = "", offset=0) -> Unit:
    return Unit(kind, Fraction(factor), {"en": (en, plural or en + "s"), "ko": (ko, ko), "zh": (zh, zh)},
                Fraction(offset))


# The base units: metre, kilogram, litre, kelvin, metre per second, second, byte, square metre.
UNITS: dict[str, Unit] = {
    "mm": _u("length", "0.001", "millimeter", "밀리미터", "毫米"),
    "cm": _u("length", "0.01", "centimeter", "센티미터", "厘米"),
    "m": _u("length", 1, "meter", "미터", "米"),
    "km": _u("length", 1000, "kilometer", "킬로미터", "公里"),
    "in": _u("length", "0.0254", "inch", "인치", "英寸", "inches"),
    "ft": _u("length", "0.3048", "foot", "피트", "英尺", "feet"),
    "yd": _u("length", "0.9144", "yard", "야드", "码"),
    "mi": _u("length", "1609.344", "mile", "마일", "英里"),
    "mg": _u("mass", "0.000001", "milligram", "밀리그램", "毫克"),
    "g": _u("mass", "0.001", "gram", "그램", "克"),
    "kg": _u("mass", 1, "kilogram", "킬로그램", "公斤"),
    "t": _u("mass", 1000, "tonne", "톤", "吨"),
    "lb": _u("mass", "0.45359237", "pound", "파운드", "磅"),
    "oz": _u("mass", "0.028349523125", "ounce", "온스", "盎司"),
    "ml": _u("volume", "0.001", "milliliter", "밀리리터", "毫升"),
    "l": _u("volume", 1, "liter", "리터", "升"),
    "gal": _u("volume", "3.785411784", "gallon", "갤런", "加仑"),
    "cup": _u("volume", "0.2365882365", "cup", "컵", "杯"),
    "floz": _u("volume", "0.0295735295625", "fluid ounce", "액량 온스", "液盎司"),
    "tbsp": _u("volume", "0.01478676478125", "tablespoon", "큰술", "汤匙"),
    "tsp": _u("volume", "0.00492892159375", "teaspoon", "작은술", "茶匙"),
    "c": _u("temperature", 1, "degree Celsius", "섭씨", "摄氏度", "degrees Celsius", offset="273.15"),
    # K = (F + 459.67) * 5/9
    "f": _u("temperature", Fraction(5, 9), "degree Fahrenheit", "화씨", "华氏度", "degrees Fahrenheit",
            offset="459.67"),
    "k": _u("temperature", 1, "kelvin", "켈빈", "开尔文", "kelvins"),
    "kmh": _u("speed", Fraction(1000, 3600), "kilometer per hour", "킬로미터 매시", "公里每小时", "kilometers per hour"),
    "mph": _u("speed", Fraction("1609.344") / 3600, "mile per hour", "마일 매시", "英里每小时", "miles per hour"),
    "ms": _u("speed", 1, "meter per second", "미터 매초", "米每秒", "meters per second"),
    "s": _u("time", 1, "second", "초", "秒"),
    "min": _u("time", 60, "minute", "분", "分钟"),
    "h": _u("time", 3600, "hour", "시간", "小时"),
    "d": _u("time", 86400, "day", "일", "天"),
    "wk": _u("time", 604800, "week", "주", "周"),
    "kb": _u("data", 1000, "kilobyte", "킬로바이트", "千字节"),
    "mb": _u("data", 1000**2, "megabyte", "메가바이트", "兆字节"),
    "gb": _u("data", 1000**3, "gigabyte", "기가바이트", "千兆字节"),
    "tb": _u("data", 1000**4, "terabyte", "테라바이트", "太字节"),
    "m2": _u("area", 1, "square meter", "제곱미터", "平方米"),
    "ha": _u("area", 10000, "hectare", "헥타르", "公顷"),
    "acre": _u("area", "4046.8564224", "acre", "에이커", "英亩"),
    "sqft": _u("area", "0.09290304", "square foot", "제곱피트", "平方英尺", "square feet"),
    "pyeong": _u("area", Fraction(400, 121), "pyeong", "평", "坪", "pyeong"),
}
# Other ways people say or write each unit (lower case), besides the names above.
ALIASES = {
    "millimetre": "mm", "millimetres": "mm", "centimetre": "cm", "centimetres": "cm", "metre": "m", "metres": "m",
    "kilometre": "km", "kilometres": "km", "kms": "km", "千米": "km", "inch": "in", "inches": "in", '"': "in",
    "feet": "ft", "foot": "ft", "'": "ft", "yards": "yd", "miles": "mi", "英哩": "mi", "grams": "g", "kilo": "kg",
    "kilos": "kg", "千克": "kg", "킬로": "kg", "ton": "t", "tons": "t", "tonnes": "t", "pounds": "lb", "lbs": "lb",
    "ounces": "oz", "litre": "l", "litres": "l", "liters": "l", "公升": "l", "millilitre": "ml",
    "millilitres": "ml", "gallons": "gal", "cups": "cup", "fl oz": "floz", "fluid ounces": "floz",
    "tablespoons": "tbsp", "teaspoons": "tsp", "celsius": "c", "°c": "c", "℃": "c", "centigrade": "c",
    "degrees celsius": "c", "degree celsius": "c", "섭씨온도": "c", "摄氏": "c", "fahrenheit": "f", "°f": "f", "℉": "f",
    "degrees fahrenheit": "f", "degree fahrenheit": "f", "화씨온도": "f", "华氏": "f", "kelvins": "k",
    "km/h": "kmh", "kph": "kmh", "kilometers per hour": "kmh", "kilometres per hour": "kmh", "시속": "kmh",
    "miles per hour": "mph", "m/s": "ms", "meters per second": "ms", "sec": "s", "secs": "s", "seconds": "s",
    "mins": "min", "minutes": "min", "分": "min", "hours": "h", "hr": "h", "hrs": "h", "钟头": "h", "days": "d",
    "weeks": "wk", "星期": "wk", "kilobytes": "kb", "megabytes": "mb", "gigabytes": "gb", "terabytes": "tb",
    "square meters": "m2", "square metres": "m2", "m²": "m2", "sq m": "m2", "hectares": "ha", "acres": "acre",
    "square feet": "sqft", "sq ft": "sqft", "ft²": "sqft", "평방미터": "m2",
}


def find_unit(name: str) -> str | None:
    """The unit's key for a name as said or written ("miles", "킬로미터", "公里", "km"), or None."""
    text = " ".join(str(name).lower().replace("degrees ", "degrees ").split()).strip(" .?")
    if text in UNITS:
        return text
    if text in ALIASES:
        return ALIASES[text]
    for key, unit in UNITS.items():
        if any(text in pair for pair in unit.names.values()):
            return key
    if text.endswith("s") and text[:-1] in ALIASES | {n: k for k, u in UNITS.items() for n in u.names["en"]}:
        return find_unit(text[:-1])
    return None


def convert(value: Fraction, from_key: str, to_key: str) -> Fraction:
    """`value` in unit `from_key` expressed in `to_key` (both keys of UNITS, of one kind)."""
    source, target = UNITS[from_key], UNITS[to_key]
    base = (value + source.offset) * source.factor
    return base / target.factor - target.offset


def unit_name(key: str, value: Fraction, language: str | None) -> str:
    singular, plural = UNITS[key].names[phrases.language_of(language)]
    return singular if value == 1 else plural


def _amount(value: Fraction, key: str, language: str | None) -> str:
    number = phrases.number(value, language)
    name = unit_name(key, value, language)
    if phrases.language_of(language) == "ko" and key in ("c", "f"):
        return f"{name} {number}도"
    return f"{number}{'' if phrases.language_of(language) == 'zh' else ' '}{name}"


def _convert(arguments: dict, language: str) -> ToolResult:
    from_key, to_key = find_unit(arguments["from_unit"]), find_unit(arguments["to_unit"])
    if from_key is None or to_key is None or UNITS[from_key].kind != UNITS[to_key].kind:
        raise ToolError(phrases.say("bad_units", language, from_unit=arguments["from_unit"],
                                    to_unit=arguments["to_unit"]))
    value = Fraction(str(arguments["value"]))
    result = convert(value, from_key, to_key)
    rounded = Fraction(round(float(result), 2 if abs(result) >= 1 else 4)).limit_denominator(10**6)
    said = phrases.say("converted", language, amount=_amount(value, from_key, language),
                       result=_amount(rounded, to_key, language))
    return ToolResult(said, {"value": float(result), "unit": to_key})


TOOLS = (
    Tool("convert_units", "Convert an amount between units of length, weight, volume, temperature, speed, time, "
         "data or area: 'how many kilometers is 26 miles', '150 pounds in kilograms'.",
         parameters(("value", "from_unit", "to_unit"),
                    value={"type": "number", "description": "the amount to convert"},
                    from_unit={"type": "string", "description": "the unit it is in, e.g. miles"},
                    to_unit={"type": "string", "description": "the unit wanted, e.g. km"}),
         _convert),
)
