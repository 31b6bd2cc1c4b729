"""The server engines against the same engines here, in one run: `python -m benchmarks.servers` (in `make bench`).

Starts the two servers the tests use (tests/rig/servers.py; `make test-servers` installs them) on the pack's own
files, so each pair is the same model on the same CPU, once over HTTP on localhost and once in Parley's process:
- speech to text: faster-whisper-server (Whisper tiny.en int8) against Parley's Transcriber on a short question;
- voice: fastkokoro (Kokoro af_heart) against Parley's Kokoro, time to the first audio of a short sentence.
Five runs each after one to warm up; prints the medians and the ratios as JSON. On a server with a GPU the server's
side is what changes; here it shows what the HTTP hop and the server's own pipeline cost.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import assistant  # noqa: F401  (optimized BLAS before mlx)

from assistant.audio_files import read_audio
from assistant.conversation.engines import Engines
from assistant.runtime.settings import Settings
from assistant.speak.server_voice import ServerVoice
from assistant.transcribe.server_speech import ServerSpeech

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
QUESTION = ROOT / "tests" / "data" / "question-whisper-repeats.wav"
SENTENCE = "What is the capital of France?"
RUNS = 5


def _median_ms(work) -> float:
    work()  # warm up
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        work()
        times.append(1000 * (time.perf_counter() - started))
    return round(statistics.median(times), 1)


def main() -> dict:
    from rig.servers import speech_server, voice_server

    engines = Engines(Settings())
    folder = Path(tempfile.mkdtemp(prefix="parley-bench-servers-"))
    stt = speech_server(folder, engines.store.get("whisper-tiny.en").path / "ct2", threads=2)  # as many as Parley's
    tts = voice_server(folder, engines.store.get("kokoro").path, threads=2)
    try:
        question = read_audio(QUESTION)
        local_stt = engines.transcriber("en", "whisper-tiny.en")
        server_stt = ServerSpeech(stt.url, key_reader=lambda: None)
        local_voice = engines.voice_named("kokoro:af_heart")
        server_voice = ServerVoice(tts.url, "af_heart", "en", key_reader=lambda: None)
        result = {
            "speech_to_text_ms": {"here": _median_ms(lambda: local_stt.transcribe(question, "en")),
                                  "server": _median_ms(lambda: server_stt.transcribe(question, "en"))},
            "voice_first_audio_ms": {"here": _median_ms(lambda: next(iter(local_voice.synthesize(SENTENCE)))),
                                     "server": _median_ms(lambda: next(iter(server_voice.synthesize(SENTENCE))))},
        }
        for figures in result.values():
            figures["ratio"] = round(figures["server"] / figures["here"], 2)
    finally:
        stt.stop()
        tts.stop()
        engines.close()
    print(json.dumps({"servers": result}))
    return result


if __name__ == "__main__":
    main()
