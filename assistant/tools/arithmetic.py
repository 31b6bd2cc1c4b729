"""Exact arithmetic: an expression such as "17*23" or "(2+3)/4" worked out with fractions, never guessed by a
model. Python's own parser reads the expression; only numbers, + - * / // % ** and parentheses are let through
(eval() would run anything)."""

from __future__ import annotations

import ast
import math
import operator
import re
from fractions import Fraction

from assistant.tools import phrases
from assistant.tools.tool import Tool, ToolError, ToolResult, parameters

MAX_EXPONENT = 1000  # 2 ** 1000 has 302 digits: enough for any question asked aloud, and bounded in time
MAX_DIGITS = 400

_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
              ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_WORDS = {
    "en": {ast.Add: "plus", ast.Sub: "minus", ast.Mult: "times", ast.Div: "divided by", ast.FloorDiv: "divided by",
           ast.Mod: "modulo", ast.Pow: "to the power of"},
    "ko": {ast.Add: "더하기", ast.Sub: "빼기", ast.Mult: "곱하기", ast.Div: "나누기", ast.FloorDiv: "나누기",
           ast.Mod: "나머지", ast.Pow: "의 거듭제곱"},
    "zh": {ast.Add: "加", ast.Sub: "减", ast.Mult: "乘以", ast.Div: "除以", ast.FloorDiv: "除以", ast.Mod: "模",
           ast.Pow: "的次方"},
}


class BadExpression(ValueError):
    """Not an arithmetic expression Parley works out; the message says why (in English, for the log)."""


def normalized(expression: str) -> str:
    """The expression with the ways people write operators turned into Python's: × · x ÷ ^ and thousands commas."""
    text = expression.strip().rstrip("?=.。？").replace("×", "*").replace("·", "*").replace("÷", "/")
    text = text.replace("^", "**").replace("−", "-").replace("（", "(").replace("）", ")")
    text = re.sub(r"(?<=\d)\s*[xX]\s*(?=[\d(])", "*", text)
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = re.sub(r"(\d+(?:\.\d+)?)\s*%", r"(\1/100)", text)
    return text


def evaluate(expression: str) -> Fraction | float:
    """The value of `expression`: a Fraction when exact, a float after a fractional power. Raises BadExpression."""
    try:
        tree = ast.parse(normalized(expression), mode="eval")
    except SyntaxError:
        raise BadExpression(f"{expression!r} is not an arithmetic expression") from None
    return _value(tree.body)


def _value(node: ast.AST) -> Fraction | float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return Fraction(str(node.value)) if isinstance(node.value, float) else Fraction(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _value(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
            raise BadExpression("division by zero")
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        result = _OPERATORS[type(node.op)](left, right)
        return Fraction(result) if isinstance(result, int) else result
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sqrt" and len(node.args) == 1:
        value = _value(node.args[0])
        if value < 0:
            raise BadExpression("the square root of a negative number")
        root = math.isqrt(int(value)) if isinstance(value, Fraction) and value.denominator == 1 else None
        return Fraction(root) if root is not None and root * root == value else math.sqrt(value)
    raise BadExpression("only numbers, + - * / % ** and parentheses are worked out")


def _power(base: Fraction | float, exponent: Fraction | float) -> Fraction | float:
    if abs(exponent) > MAX_EXPONENT:
        raise BadExpression(f"an exponent over {MAX_EXPONENT}")
    if isinstance(exponent, Fraction) and exponent.denominator == 1 and isinstance(base, Fraction):
        if base == 0 and exponent < 0:
            raise BadExpression("division by zero")
        if len(str(abs(base.numerator))) * abs(exponent) > MAX_DIGITS * 4:
            raise BadExpression("a number too large to say")
        return base ** int(exponent)
    if base < 0:
        raise BadExpression("a fractional power of a negative number")
    return float(base) ** float(exponent)


def spoken(expression: str, language: str | None) -> str:
    """The expression as it is said: "17 times 23", "17 곱하기 23", "17乘以23"."""
    lang = phrases.language_of(language)
    if "(" in expression or "%" in expression:  # grouping and percentages are clearest as written
        return re.sub(r"\s*([*/+×÷])\s*", r" \1 ", expression.strip().rstrip("?=.。？")).replace("*", "×")
    try:
        tree = ast.parse(normalized(expression), mode="eval").body
    except SyntaxError:
        return expression
    joiner = "" if lang == "zh" else " "

    def words(node: ast.AST) -> str:
        if isinstance(node, ast.BinOp) and type(node.op) in _WORDS[lang]:
            if isinstance(node.op, ast.Pow) and lang != "en":
                return f"{words(node.left)}{'의 ' if lang == 'ko' else '的'}{words(node.right)}" + \
                    ("제곱" if lang == "ko" else "次方")
            return joiner.join((words(node.left), _WORDS[lang][type(node.op)], words(node.right)))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return ("minus " if lang == "en" else "마이너스 " if lang == "ko" else "负") + words(node.operand)
        if isinstance(node, ast.Constant):
            return phrases.number(Fraction(str(node.value)), language)
        if isinstance(node, ast.Call) and node.args:
            inner = words(node.args[0])
            return {"en": f"the square root of {inner}", "ko": f"{inner}의 제곱근", "zh": f"{inner}的平方根"}[lang]
        return ast.unparse(node)

    return words(tree)


def _calculate(arguments: dict, language: str) -> ToolResult:
    expression = str(arguments["expression"])
    try:
        value = evaluate(expression)
    except (BadExpression, OverflowError, ValueError) as exc:
        raise ToolError(phrases.say("bad_expression", language, why=str(exc) if language == "en" else expression)) from exc
    text = phrases.number(value, language)
    return ToolResult(phrases.say("result", language, expression=spoken(expression, language), value=text),
                      {"expression": normalized(expression), "value": text.replace(",", "")})


TOOLS = (
    Tool("calculate", "Work out arithmetic exactly: adding, totals, multiplying, dividing, powers, percentages "
         "('multiply 48 by 365' is 48*365). Never do arithmetic yourself.",
         parameters(("expression",), expression={"type": "string",
                                                 "description": "the arithmetic in digits, e.g. 17*23 or (4+5)/3"}),
         _calculate),
)
