"""`parley bench serve [--json]`: `parley serve` under load, on this machine.

For transcription (a 2-second spoken question) and speech (one sentence) through the HTTP API with the official
`openai` client: requests per minute and p50/p95 latency with 1, 4 and 16 clients at once (each sends
REQUESTS_PER_CLIENT). The same file through `parley transcribe`'s own path, for the API's overhead. And the
conversation's response (a spoken question answered by `parley reply`'s path: first sound after the question) with
no API load and with 4 API clients busy, in the same run, as the app would run beside `parley serve`.
"""

from __future__ import annotations

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


def _conversation_p50(engines: Engines, question: np.ndarray) -> float:
    from assistant.conversation.one_turn import reply_to_audio

    firsts = []
    for _ in range(CONVERSATION_TRIALS):
        engines.chat.reset()
        firsts.append(reply_to_audio(engines, question).timings_ms.get("first_audio", 0.0))
    return round(statistics.median(firsts), 1)


def main(as_json: bool = False) -> dict:
    import tempfile

    from assistant.conversation.one_turn import transcribe_recording

    settings = load_settings()
    served, conversing = Engines(settings), Engines(settings)  # (the app beside `parley serve`: engines of its own)
    served.preload("en")
    conversing.preload("en", warm_up=True)
    api = HttpApi(EngineJobs(served), "127.0.0.1", 0)
    api.start()
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
            quiet = _conversation_p50(conversing, audio)
            stop = threading.Event()
            busy = [threading.Thread(target=_load, args=(kind, 2, api.url, wav, stop))
                    for kind in ("transcription", "speech")]  # 4 clients in all
            for thread in busy:
                thread.start()
            try:
                loaded = _conversation_p50(conversing, audio)
            finally:
                stop.set()
                for thread in busy:
                    thread.join()
    finally:
        api.stop()
        served.close()
        conversing.close()
    result = {
        "load": load,
        "transcription_ms": {"parley_transcribe_p50": round(statistics.median(direct), 1), "api_p50": api_single,
                             "requests": 10,
                             "ratio": round(api_single / statistics.median(direct), 2)},
        "conversation_first_audio_ms_p50": {"no_api_load": quiet, "with_4_api_clients": loaded},
    }
    print(json.dumps(result) if as_json else json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main(as_json="--json" in sys.argv)
