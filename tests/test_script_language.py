"""The language a text's script names (assistant/speak/text/script_language.py): how `parley say` picks a voice."""

import pytest

from assistant.speak.text.script_language import language_of_script


@pytest.mark.parametrize("text, language", [
    ("오늘 서울의 날씨는 맑습니다.", "ko"), ("안녕하세요, Parley!", "ko"),  # a Latin name inside Korean
    ("今天北京的天气很好。", "zh"), ("今日はいい天気です。", "ja"),  # kana make Chinese characters Japanese
    ("Привет, как дела?", "ru"), ("Hello 你好 there, my friend", None),  # a Chinese word inside English
    ("Bonjour tout le monde", None), ("123 !!! 🎉", None), ("", None),
])
def test_the_script_names_the_language_latin_names_none(text, language):
    assert language_of_script(text) == language
