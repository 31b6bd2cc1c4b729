"""`parley bench chat`: the chat engine's speed against bare llama.cpp on the same GGUF file, in one run.

For the chat model of the settings: Parley's first token on a first turn (after the warm-up the app does),
on a follow-up turn (after the history prefill the conversation does while the user speaks: the question's own
tokens are still to read), on a follow-up whose question was read ahead too (as the conversation does at the first
pause in the user's speech: only the first token is left), its tokens/s, and the same prompts through bare
`xllamacpp` as the reference. Each figure is the median of the questions below;
`ratio` = Parley's tokens/s over the reference's.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from assistant.chat import ChatConfig, system_prompt
from assistant.conversation.engines import Engines, installed_model
from assistant.runtime.settings import load_settings

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
    first, follow, read_ahead, rates = [], [], [], []
    for question, follow_up in QUESTIONS:
        for read_question in (False, True):
            chat.reset()
            chat.prefill().result()  # the system prompt, as after the warm-up of a fresh conversation
            reply = "".join(chat.reply(question))
            chat.record_reply(reply)
            first.append(chat.last_timings.first_token_ms)
            rates.append(chat.last_timings.tokens_per_s)
            chat.prefill().result()  # the history, read while the user speaks the next question
            if read_question:  # and the question, as the conversation does at the first pause in the user's speech
                chat.prefill(follow_up).result()
            chat.record_reply("".join(chat.reply(follow_up)))
            (read_ahead if read_question else follow).append(chat.last_timings.first_token_ms)
            rates.append(chat.last_timings.tokens_per_s)
    return {"first_token_ms": statistics.median(first), "followup_first_token_ms": statistics.median(follow),
            "followup_read_ahead_first_token_ms": statistics.median(read_ahead),
            "tokens_per_s": statistics.median(rates)}


def reference_tokens_per_s(gguf: Path, config: ChatConfig) -> float:
    """Bare llama.cpp (xllamacpp's in-process server, default settings) on the same first questions, file, system
    prompt and sampling, streamed, its rate measured as Parley's is."""
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
            arrivals: list[float] = []

            def on_chunk(chunk: dict) -> bool:
                if any((choice.get("delta") or {}).get("content") for choice in chunk.get("choices") or []):
                    arrivals.append(time.perf_counter())
                return False

            server.handle_chat_completions({"messages": messages, "max_tokens": config.max_reply_tokens,
                                            "temperature": config.temperature, "top_p": 0.9 if config.temperature else 1.0,
                                            "stream": True}, on_chunk)
            # Measured as Parley's rate is: pieces received, first to last.
            if len(arrivals) > 1:
                rates.append((len(arrivals) - 1) / (arrivals[-1] - arrivals[0]))
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
              f"{result['followup_first_token_ms']} ms ({result['followup_read_ahead_first_token_ms']} ms with the question read "
              f"ahead), {result['tokens_per_s']} tokens/s; bare llama.cpp "
              f"{result['reference_tokens_per_s']} tokens/s (ratio {result['ratio']})", file=sys.stderr)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main("--json" in sys.argv)
