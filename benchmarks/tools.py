"""`parley bench tools [--json] [MODEL_ID ...]`: how Parley does what it is asked (benchmarks/tool_requests.py).

For each chat model (default: the settings' one, and Qwen2.5 Coder 1.5B when installed): which tool each request
got and whether its arguments were right; the time from the request's text to the first sound of the spoken answer
for the template-matched commands and for the plain questions (same run, same voice); and the model's first token
and tokens/s on the plain questions. Timers, alarms and facts go to a folder of their own, and "open" only says what
it would open.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time

from assistant.conversation.engines import Engines
from assistant.runtime.settings import load_settings
from assistant.tools.tool import Call, ToolResult
from benchmarks.tool_requests import REQUESTS, arguments_right

LARGER_MODEL = "qwen2.5-coder-1.5b-instruct"


def run_model(model_id: str, progress: bool) -> dict:
    from assistant.conversation.answer import answer
    from assistant.models.store import ModelStore
    from assistant.speak.text.segmenter import SentenceSegmenter

    settings = load_settings()
    settings = dataclasses.replace(settings, models=dataclasses.replace(settings.models, llm=model_id))
    engines = Engines(settings, ModelStore())
    toolbox = engines.toolbox
    calls: list[Call] = []
    real_run = toolbox.run

    def run(call: Call, language):
        calls.append(toolbox.resolve(call) or call)
        if call.name == "open":
            return ToolResult(f"Opening {call.arguments.get('target')}.", call.arguments)
        return real_run(call, language)

    toolbox.run = run
    chat = engines.chat
    chat.load()
    chat.warm_up("en").result()
    rows = []
    try:
        for number, request in enumerate(REQUESTS, 1):
            chat.reset()
            calls.clear()
            voice = engines.voice_for(request.language)
            voice.load()
            first_audio = None
            started = time.perf_counter()

            def say(sentence: str) -> None:
                nonlocal first_audio
                if first_audio is None:
                    next(iter(voice.synthesize(sentence)), None)
                    first_audio = 1000 * (time.perf_counter() - started)

            segmenter = SentenceSegmenter()
            text = ""
            for piece in answer(chat, toolbox, request.text, None, request.language):
                text += piece
                for sentence in segmenter.push(piece):
                    say(sentence)
            for sentence in segmenter.flush():
                say(sentence)
            call = calls[0] if calls else None
            timings = chat.last_timings
            row = {
                "text": request.text, "language": request.language, "route": request.route,
                "wanted": request.tool, "tool": call.name if call else None, "by": call.source if call else None,
                "arguments": call.arguments if call else None,
                "right": (call is None) if request.tool is None else
                         (call is not None and call.name == request.tool and arguments_right(request, call.arguments)),
                "answer": text.strip(), "first_audio_ms": round(first_audio or 0, 1),
            }
            if request.route == "plain" and timings is not None:
                row["first_token_ms"], row["tokens_per_s"] = round(timings.first_token_ms, 1), round(
                    timings.tokens_per_s, 1)
            rows.append(row)
            if progress:
                print(f"  [{number}/{len(REQUESTS)}] {'ok ' if row['right'] else 'NO '} {request.text} -> "
                      f"{row['tool']} {row['arguments'] or ''} ({row['first_audio_ms']:.0f} ms)", file=sys.stderr)
    finally:
        engines.close()
    return summary(model_id, chat.name, rows)


def _rate(rows: list[dict]) -> dict:
    right = sum(r["right"] for r in rows)
    return {"right": right, "of": len(rows), "rate": round(right / len(rows), 3) if rows else None}


def _p50(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def summary(model_id: str, engine: str, rows: list[dict]) -> dict:
    template = [r for r in rows if r["route"] == "template"]
    model = [r for r in rows if r["route"] == "model"]
    plain = [r for r in rows if r["route"] == "plain"]
    return {
        "model": model_id, "engine": engine,
        "template_commands": _rate(template),
        "model_tool_calls": _rate(model),
        "plain_questions": {**_rate(plain), "tools_called": sum(r["tool"] is not None for r in plain)},
        "by_language": {lang: {"template": _rate([r for r in template if r["language"] == lang]),
                               "model": _rate([r for r in model if r["language"] == lang]),
                               "plain": _rate([r for r in plain if r["language"] == lang])}
                        for lang in ("en", "ko", "zh")},
        "first_audio_ms_p50": {
            "template_commands": _p50([r["first_audio_ms"] for r in template]),
            "plain_questions": _p50([r["first_audio_ms"] for r in plain]),
            "model_tool_calls": _p50([r["first_audio_ms"] for r in model]),
            "template_commands_en": _p50([r["first_audio_ms"] for r in template if r["language"] == "en"]),
            "plain_questions_en": _p50([r["first_audio_ms"] for r in plain if r["language"] == "en"]),
        },
        "first_token_ms_p50": _p50([r["first_token_ms"] for r in plain if "first_token_ms" in r]),
        "tokens_per_s_p50": _p50([r["tokens_per_s"] for r in plain if r.get("tokens_per_s")]),
        "rows": rows,
    }


def main(models: list[str] | None = None, as_json: bool = False) -> list[dict]:
    from assistant.models.store import ModelStore

    if not models:
        models = [load_settings().models.llm]
        if LARGER_MODEL not in models and ModelStore().get(LARGER_MODEL) is not None:
            models.append(LARGER_MODEL)
    results = []
    with tempfile.TemporaryDirectory(prefix="parley-bench-tools-") as folder:
        for model_id in models:
            os.environ["PARLEY_DATA_DIR"] = os.path.join(folder, model_id)  # timers and facts of this run only
            if not as_json:
                print(f"{model_id}:", file=sys.stderr)
            results.append(run_model(model_id, progress=not as_json))
    for result in results:
        if as_json:
            print(json.dumps(result, ensure_ascii=False))
        else:
            print_result(result)
    return results


def print_result(result: dict) -> None:
    t, m, p, a = (result["template_commands"], result["model_tool_calls"], result["plain_questions"],
                  result["first_audio_ms_p50"])
    print(f"{result['model']} on {result['engine']}: template commands {t['right']}/{t['of']} right; "
          f"model tool calls {m['right']}/{m['of']}; plain questions {p['right']}/{p['of']} "
          f"({p['tools_called']} called a tool); first audio p50: commands {a['template_commands']} ms, plain "
          f"questions {a['plain_questions']} ms, model tool calls {a['model_tool_calls']} ms; first token "
          f"{result['first_token_ms_p50']} ms, {result['tokens_per_s_p50']} tokens/s")


if __name__ == "__main__":
    main([a for a in sys.argv[1:] if not a.startswith("--")], as_json="--json" in sys.argv)
