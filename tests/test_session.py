"""What a change of settings means for the running conversation (pure logic of AssistantSession.apply)."""

from __future__ import annotations

import dataclasses

import pytest

from assistant.conversation.session import what_changed
from assistant.runtime.settings import Settings

BASE = Settings()


def _with(section: str, **values) -> Settings:
    return dataclasses.replace(BASE, **{section: dataclasses.replace(getattr(BASE, section), **values)})


@pytest.mark.parametrize("new, expected", [
    (BASE, "nothing"),
    (_with("hotkey", key="<f9>", style="toggle"), "nothing"),  # the app restarts the key listener itself
    (_with("conversation", mode="push_to_talk"), "mode"),
    (_with("models", llm="qwen2.5-0.5b-instruct"), "engines"),
    (_with("audio", input_device="USB mic", echo_cancellation=False), "engines"),
    (_with("listening", end_of_turn_silence_ms=800), "engines"),
    (_with("conversation", language="de"), "engines"),
    (_with("conversation", mode="push_to_talk", system_prompt="Call me Sam."), "engines"),
    (_with("voice", speaking_rate=1.2), "engines"),
    (_with("api", port=9000, wyoming=True), "api"),  # the API restarts on the same engines
    (_with("api", enabled=True), "engines"),  # the chat model gets (or gives back) the API's slot
])
def test_what_changed(new, expected):
    assert what_changed(BASE, new) == expected
