"""A fixed question set for judging chat models by their answers: English facts and small talk, Korean, Chinese, and a
follow-up that needs the history. `python -m benchmarks.answers [MODEL_ID ...]` prints each model's answers (default:
the chat models installed) as JSON lines, {"model", "engine", "question", "answer"}, for a person to read side by side.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile

from assistant.conversation.answer import answer as answer_to
from assistant.conversation.engines import Engines
from assistant.runtime.settings import load_settings

# Each entry is one conversation: the questions are asked in order, the later ones needing the earlier answers.
CONVERSATIONS = [
    ["What is the largest ocean on Earth?"],
    ["Who wrote Romeo and Juliet?"],
    ["How many legs does a spider have?"],
    ["Hi! How are you today?"],
    ["I'm a bit tired after work. Any ideas to relax this evening?"],
    ["한국의 수도는 어디인가요?"],
    ["中国的首都是哪里？"],
    ["My name is Mina and I live in Busan.", "What is my name, and where do I live?"],
]


def answers(model_id: str) -> list[dict]:
    settings = load_settings()
    settings = dataclasses.replace(settings, models=dataclasses.replace(settings.models, llm=model_id))
    engines = Engines(settings)
    rows = []
    try:
        chat = engines.chat
        for questions in CONVERSATIONS:
            chat.reset()
            for question in questions:
                answer = "".join(answer_to(chat, engines.toolbox, question, None)).strip()
                chat.record_reply(answer)
                rows.append({"model": model_id, "engine": chat.name, "question": question, "answer": answer})
    finally:
        engines.close(5)
    return rows


def main(model_ids: list[str]) -> None:
    if not model_ids:
        from assistant.models.store import ModelStore

        model_ids = [m.id for m in ModelStore().installed() if m.kind == "llm"]
    for model_id in model_ids:
        # What the models are told to remember (or set) goes to a folder of this run, never the user's memory.
        with tempfile.TemporaryDirectory(prefix="parley-answers-") as folder:
            os.environ["PARLEY_DATA_DIR"] = folder
            for row in answers(model_id):
                print(json.dumps(row, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
