"""`parley bench chat`: the chat engine's speed against bare llama.cpp on the same GGUF file, in one run.

For the chat model of the settings: Parley's first token on a first turn (after the warm-up the app does)
and on a follow-up turn (after the history prefill the conversation does while the user speaks), its
tokens/s, and the same prompts through bare `xllamacpp` as the reference. Each figure is the median of
the questions below; `ratio` = Parley's tokens/s over the reference's.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from assistant.chat import ChatConfig, system_prompt
from assistant.engines import Engines, installed_model
from assistant.settings import load_settings

# (first question, follow-up): the follow-up needs the history.
QUESTIONS = [
    ("What is the largest ocean on Earth?", "And the smallest one?"),
    ("Who wrote Romeo and Juliet?", "When did he live?"),
    ("What is the boiling point of water in Celsius?", "And in Fahrenheit?"),
]


def parley_figures(engines: Engines) -> dict:
    chat = engines.chat
    chat.load()
    chat.warm_up().result()
    first, follow, rates = [], [], []
    for question, follow_up in QUESTIONS:
        chat.reset()
        chat.prefill().result()  # the system prompt, as after the warm-up of a fresh conversation
        reply = "".join(chat.reply(question))
        chat.record_reply(reply)
        first.append(chat.last_timings.first_token_ms)
        rates.append(chat.last_timings.tokens_per_s)
        chat.prefill().result()  # the history, read while the user speaks the next question
        chat.record_reply("".join(chat.reply(follow_up)))
        follow.append(chat.last_timings.first_token_ms)
        rates.append(chat.last_timings.tokens_per_s)
    return {"first_token_ms": statistics.median(first), "followup_first_token_ms": statistics.median(follow),
            "tokens_per_s": statistics.median(rates)}


def reference_tokens_per_s(gguf: Path, config: ChatConfig) -> float:
    """Bare llama.cpp (xllamacpp's in-process server, default settings) on the same questions and file."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(gguf)
    params.n_ctx = config.context_tokens
    params.n_parallel = 1
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = os.cpu_count() or 2
    folder = tempfile.mkdtemp(prefix="parley-bench-")
    params.hostnames = [f"{folder}/llama.sock"]
    params.verbosity = -1
    server = xllamacpp.Server(params)
    rates = []
    try:
        for question, _ in QUESTIONS:
            messages = [{"role": "system", "content": system_prompt(config)}, {"role": "user", "content": question}]
            result = server.handle_chat_completions({"messages": messages, "max_tokens": config.max_reply_tokens,
                                                     "temperature": 0})
            rates.append(result["timings"]["predicted_per_second"])
    finally:
        del server
    return statistics.median(rates)


def main(as_json: bool = False) -> dict:
    settings = load_settings()
    engines = Engines(settings)
    model = installed_model(engines.store, settings.models.llm, "llm")
    try:
        ours = parley_figures(engines)
        config = engines.chat.config
        engine = engines.chat.name
    finally:
        engines.close(5)
    result = {"engine": engine, "model": model.id, **{k: round(v, 1) for k, v in ours.items()}}
    if model.gguf_file is not None:
        reference = reference_tokens_per_s(model.gguf_file, config)
        result["reference_tokens_per_s"] = round(reference, 1)
        result["ratio"] = round(ours["tokens_per_s"] / reference, 2)
    else:
        result["reference_tokens_per_s"] = result["ratio"] = None  # an MLX-only model has no GGUF to compare with
    if not as_json:
        print(f"{model.id} on {engine}: first token {result['first_token_ms']} ms, follow-up "
              f"{result['followup_first_token_ms']} ms, {result['tokens_per_s']} tokens/s; bare llama.cpp "
              f"{result['reference_tokens_per_s']} tokens/s (ratio {result['ratio']})", file=sys.stderr)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main("--json" in sys.argv)
