"""`parley serve --wyoming`'s Wyoming server with the `wyoming` library's own client, against the real default
models: describe, transcribe a file, synthesize a sentence, hear the wake word; several clients at once."""

from __future__ import annotations

import asyncio
import wave

import numpy as np
import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop, wav_to_chunks
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize
from wyoming.wake import Detect, Detection, NotDetected

from assistant.api.api_server import WyomingApi
from assistant.api.engine_jobs import EngineJobs

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def engines(loaded_engines):
    return loaded_engines


@pytest.fixture(scope="module")
def server(engines):
    wyoming = WyomingApi(EngineJobs(engines), "127.0.0.1", 0)
    wyoming.start()
    yield wyoming
    wyoming.stop()


@pytest.fixture(scope="module")
def question_wav(spoken_question) -> str:
    return spoken_question


async def _describe(port: int) -> Info:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Describe().event())
        return Info.from_event(await client.read_event())


async def _transcribe(port: int, path: str) -> str:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Transcribe(language="en").event())
        with wave.open(path, "rb") as wav:
            for event in wav_to_chunks(wav, samples_per_chunk=1024, start_event=True, stop_event=True):
                await client.write_event(event.event())
        while (event := await client.read_event()) is not None:
            if Transcript.is_type(event.type):
                return Transcript.from_event(event).text
    raise AssertionError("no transcript came")


async def _synthesize(port: int, text: str) -> tuple[int, bytes]:
    audio, rate = b"", 0
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Synthesize(text=text).event())
        while (event := await client.read_event()) is not None:
            if AudioStart.is_type(event.type):
                rate = AudioStart.from_event(event).rate
            elif AudioChunk.is_type(event.type):
                audio += AudioChunk.from_event(event).audio
            elif AudioStop.is_type(event.type):
                return rate, audio
    raise AssertionError("the audio did not end")


def test_describe_offers_speech_to_text_voices_and_wake_words(server, engines):
    info = asyncio.run(_describe(server.port))
    assert info.asr[0].installed and engines.settings.models.stt in [m.name for m in info.asr[0].models]
    assert engines.settings.models.tts in [v.name for v in info.tts[0].voices]
    assert "hey_jarvis" in [m.name for m in info.wake[0].models]


def test_a_file_is_transcribed_and_a_sentence_synthesized(server, question_wav):
    assert "capital of france" in asyncio.run(_transcribe(server.port, question_wav)).lower()
    rate, audio = asyncio.run(_synthesize(server.port, "Hello from Parley."))
    assert rate == 24000 and len(audio) > 2 * 24000 * 0.5


def test_several_clients_at_once_each_get_their_own_answer(server, question_wav):
    async def all_at_once():
        return await asyncio.gather(*([_transcribe(server.port, question_wav)] * 3 +
                                      [_synthesize(server.port, f"Sentence number {n}.") for n in range(3)]))

    results = asyncio.run(all_at_once())
    assert all("capital of france" in text.lower() for text in results[:3])
    assert all(rate == 24000 and len(audio) > 24000 for rate, audio in results[3:])


def test_the_wake_word_is_heard_and_silence_is_not(server, engines):
    from assistant.audio_files import resample

    chunks = list(engines.synthesizer().synthesize("Hey Jarvis, what's the capital of France?"))
    said = resample(np.concatenate([c.audio for c in chunks]), chunks[0].sample_rate, 16000)
    said = np.concatenate([np.zeros(8000, np.float32), said, np.zeros(16000, np.float32)])

    async def detect(audio: np.ndarray) -> list[str]:
        pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
        heard = []
        async with AsyncTcpClient("127.0.0.1", server.port) as client:
            await client.write_event(Detect(names=["hey_jarvis"]).event())
            await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
            for at in range(0, len(pcm), 2048):
                await client.write_event(AudioChunk(rate=16000, width=2, channels=1, audio=pcm[at:at + 2048]).event())
            await client.write_event(AudioStop().event())
            while (event := await client.read_event()) is not None:
                heard.append(event.type)
                if Detection.is_type(event.type) or NotDetected.is_type(event.type):
                    break
        return heard

    assert asyncio.run(detect(said)) == ["detection"]
    assert asyncio.run(detect(np.zeros(16000 * 2, np.float32))) == ["not-detected"]
