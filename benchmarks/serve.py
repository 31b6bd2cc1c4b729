"""`parley bench serve [--json]`: `parley serve` under load, on this machine.

For transcription (a 2-second spoken question) and speech (one sentence) through the HTTP API with the official
`openai` client: requests per minute and p50/p95 latency with 1, 4 and 16 clients at once (each sends
REQUESTS_PER_CLIENT). The same file through `parley transcribe`'s own path, for the API's overhead. And the
conversation's response (a spoken question answered by `parley reply`'s path: first sound after the question) with
no API load, with 4 API clients busy on the app's own engines (the API switched on in Settings: the conversation
holds the floor through each turn, as the app's does from the moment a person starts talking), and with 4 clients
busy on a separate `parley serve` (engines of its own, nothing giving way), in the same run; and with 4 clients
streaming chat completions beside the app (each paused at its next token for the turn, then resumed).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import sys
import threading
import time

import numpy as np

from assistant.api.api_server import HttpApi
from assistant.api.engine_jobs import EngineJobs
from assistant.audio_files import read_audio, write_wav
from assistant.conversation.engines import Engines
from assistant.runtime.settings import load_settings

REQUESTS_PER_CLIENT = 3
CLIENTS = (1, 4, 16)
CONVERSATION_TRIALS = 5
CHAT_REQUEST, CHAT_TOKENS = "List the numbers one to thirty in words, one per line.", 120


def _p(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else 0.0


def _load(kind: str, clients: int, url: str, wav: str, stop: threading.Event | None = None,
          requests: int = REQUESTS_PER_CLIENT) -> dict:
    """`clients` threads, each sending `requests` requests of `kind` (or until `stop`)."""
    import openai

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        api = openai.OpenAI(base_url=url, api_key="local", max_retries=0, timeout=600)
        sent = 0
        while (stop is None and sent < requests) or (stop is not None and not stop.is_set()):
            started = time.perf_counter()
            try:
                if kind == "transcription":
                    with open(wav, "rb") as audio:
                        api.audio.transcriptions.create(model="whisper-1", file=audio, language="en")
                elif kind == "chat":
                    for _ in api.chat.completions.create(model="parley", stream=True, max_tokens=CHAT_TOKENS,
                                                         messages=[{"role": "user", "content": CHAT_REQUEST}]):
                        pass
                else:
                    api.audio.speech.create(model="tts-1", voice="alloy", response_format="wav",
                                            input="This is Parley, answering a program that asked.").read()
            except Exception as exc:  # counted, not fatal: the figure says how many failed
                with lock:
                    errors.append(type(exc).__name__)
            else:
                with lock:
                    latencies.append(1000 * (time.perf_counter() - started))
            sent += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"kind": kind, "clients": clients, "requests": len(latencies), "failed": len(errors),
            "per_minute": round(60 * len(latencies) / wall, 1), "p50_ms": _p(latencies, 50), "p95_ms": _p(latencies, 95)}


def _conversation_p50(engines: Engines, question: np.ndarray, busy_url: str | None = None, wav: str = "",
                      kinds: tuple[str, ...] = ("transcription", "speech")) -> float:
    """First sound p50 of CONVERSATION_TRIALS turns, the floor held through each; with `busy_url`, while 4 clients
    (2 of each of `kinds`, or 4 of one) keep that API busy."""
    from assistant.conversation.one_turn import reply_to_audio

    stop = threading.Event()
    busy = [threading.Thread(target=_load, args=(kind, 4 // len(kinds), busy_url, wav, stop))
            for kind in kinds] if busy_url else []
    for thread in busy:
        thread.start()
    firsts = []
    try:
        for _ in range(CONVERSATION_TRIALS):
            engines.chat.reset()
            time.sleep(0.5)  # (the API's clients are at work again between turns, as between a person's questions)
            engines.floor.hold(True)
            try:
                firsts.append(reply_to_audio(engines, question).timings_ms.get("first_audio", 0.0))
            finally:
                engines.floor.hold(False)
    finally:
        stop.set()
        for thread in busy:
            thread.join()
    return round(statistics.median(firsts), 1)


def main(as_json: bool = False) -> dict:
    import tempfile

    from assistant.conversation.one_turn import transcribe_recording

    settings = load_settings()
    served = Engines(dataclasses.replace(settings, api=dataclasses.replace(settings.api, enabled=False)))
    # The app with its API switched on: the conversation and the API on one set of engines.
    app = Engines(dataclasses.replace(settings, api=dataclasses.replace(settings.api, enabled=True)))
    served.preload("en")
    app.preload("en", warm_up=True)
    api, beside = HttpApi(EngineJobs(served), "127.0.0.1", 0), HttpApi(EngineJobs(app), "127.0.0.1", 0)
    api.start()
    beside.start()
    try:
        with tempfile.TemporaryDirectory(prefix="parley-bench-serve-") as folder:
            chunks = list(served.synthesizer().synthesize("What is the capital of France?"))
            wav = f"{folder}/question.wav"
            write_wav(wav, np.concatenate([c.audio for c in chunks]), chunks[0].sample_rate)
            audio = read_audio(wav)
            direct = []
            for _ in range(10):  # as `parley transcribe` does it: the file decoded, then heard
                started = time.perf_counter()
                transcribe_recording(served, read_audio(wav), "en")
                direct.append(1000 * (time.perf_counter() - started))
            single = _load("transcription", 1, api.url, wav, requests=10)
            load = [_load(kind, clients, api.url, wav) for clients in CLIENTS for kind in ("transcription", "speech")]
            api_single = single["p50_ms"]
            quiet = _conversation_p50(app, audio)
            shared = _conversation_p50(app, audio, beside.url, wav)
            separate = _conversation_p50(app, audio, api.url, wav)
            chatting = _conversation_p50(app, audio, beside.url, wav, ("chat",))
    finally:
        api.stop()
        beside.stop()
        served.close()
        app.close()
    result = {
        "load": load,
        "transcription_ms": {"parley_transcribe_p50": round(statistics.median(direct), 1), "api_p50": api_single,
                             "requests": 10,
                             "ratio": round(api_single / statistics.median(direct), 2)},
        "conversation_first_audio_ms_p50": {"no_api_load": quiet, "with_4_api_clients_beside_the_app": shared,
                                            "with_4_clients_on_a_separate_parley_serve": separate,
                                            "with_4_chat_clients_beside_the_app": chatting},
    }
    print(json.dumps(result) if as_json else json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main(as_json="--json" in sys.argv)
