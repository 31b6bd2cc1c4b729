"""Chinese in the script of the settings (assistant/chinese_script.py): OpenCC converts a transcript, the default
follows the locale, the transcriber writes Chinese in the chosen script, and replies are asked for in it."""

import numpy as np
import pytest

from assistant.chat.prompt import ChatConfig, system_prompt
from assistant.chinese_script import default_script, in_script
from assistant.runtime.mlx_worker import MlxWorker
from assistant.transcribe.transcriber import Transcriber
from assistant.transcribe.engine import Decoded


@pytest.mark.parametrize("script, text, expected", [
    ("simplified", "廣州市的天氣怎麼樣？", "广州市的天气怎么样？"),
    ("traditional", "广州市的天气怎么样？", "廣州市的天氣怎麼樣？"),
    ("simplified", "我的头发很长。", "我的头发很长。"),  # already Simplified: unchanged
    ("traditional", "我的头发很长。", "我的頭髮很長。"),  # phrase-level: 发 → 髮 in 头发, not 發
    ("simplified", "", ""),
])
def test_text_in_a_script(script, text, expected):
    assert in_script(text, script) == expected


def test_an_unknown_script_is_refused():
    with pytest.raises(ValueError, match="simplified, traditional"):
        in_script("你好", "cantonese")


@pytest.mark.parametrize("lang, expected", [("zh_TW.UTF-8", "traditional"), ("zh_HK.UTF-8", "traditional"),
                                            ("zh_CN.UTF-8", "simplified"), ("en_US.UTF-8", "simplified"),
                                            ("", "simplified")])
def test_the_default_follows_the_locale(monkeypatch, lang, expected):
    for key in ("LC_ALL", "LC_CTYPE", "LANGUAGE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("LANG", lang)
    monkeypatch.setattr("locale.getlocale", lambda: (None, None))
    assert default_script() == expected


class _Whisper:
    """An engine that hears Traditional characters, as Whisper does at times for a Mandarin speaker."""

    name = "fake"

    def __init__(self, text: str, language: str) -> None:
        self.text, self.language = text, language

    def describe(self) -> str:
        return "fake"

    def load(self) -> None:
        pass

    def decode_short(self, audio, seconds, language, most) -> Decoded:
        return Decoded(self.text, self.language, 8, 1.0, -0.2, 0.01)


@pytest.mark.parametrize("script, expected", [("simplified", "广州市在哪里？"), ("traditional", "廣州市在哪裡？")])
def test_a_chinese_transcript_is_written_in_the_chosen_script(tmp_path, script, expected):
    worker = MlxWorker()
    try:
        transcriber = Transcriber(worker, tmp_path, "fake", engine=_Whisper("廣州市在哪裡？", "zh"), chinese_script=script)
        assert transcriber.transcribe(np.zeros(16000, np.float32)).text == expected
        other = Transcriber(worker, tmp_path, "fake", engine=_Whisper("頭髮", "ja"), chinese_script="simplified")
        assert other.transcribe(np.zeros(16000, np.float32)).text == "頭髮"  # Japanese kanji are left alone
    finally:
        worker.close()


def test_replies_are_asked_for_in_the_script():
    assert "Traditional Chinese characters" in system_prompt(ChatConfig(language="zh", chinese_script="traditional"))
    assert "Simplified Chinese characters" in system_prompt(ChatConfig(language="auto"), language="zh")
    assert "Chinese" not in system_prompt(ChatConfig(language="en"))
