"""The local API in the OpenAI shape: /v1/audio/transcriptions, /v1/audio/speech (streamed as it is voiced),
/v1/chat/completions (streamed as SSE, or whole) and /v1/models, on starlette. Work runs on threads (one job per
engine at a time); a client that goes away stops its job at the next piece: the streams' async generators are
cancelled by starlette, and their `finally` tells the thread."""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import tempfile
import threading
import time
import uuid
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

from assistant.api.engine_jobs import SPEECH_RATE, EngineJobs, JobError, checked_language
from assistant.api.http_guards import LimitBody, RequireToken, ApiError, api_error, http_error

log = logging.getLogger(__name__)

DISCONNECT_POLL_S = 0.2  # how often a request that waits on a worker thread looks whether its client is still there

MAX_TEXT_CHARS = 4096  # OpenAI's limit for /v1/audio/speech
MAX_CHAT_TOKENS = 1024
_END = object()


def build_app(jobs: EngineJobs, token: str | None = None, max_body: int | None = None):
    """The ASGI app: the size limit first, then the token, then the routes."""
    routes = _Routes(jobs)
    app = Starlette(routes=[
        Route("/v1/models", routes.models, methods=["GET"]),
        Route("/v1/audio/transcriptions", routes.transcriptions, methods=["POST"]),
        Route("/v1/audio/speech", routes.speech, methods=["POST"]),
        Route("/v1/chat/completions", routes.chat, methods=["POST"]),
    ], exception_handlers={ApiError: api_error, HTTPException: http_error})
    guarded = RequireToken(app, token)
    return LimitBody(guarded, max_body) if max_body else LimitBody(guarded)


class _Routes:
    def __init__(self, jobs: EngineJobs) -> None:
        self.jobs = jobs

    async def models(self, request: Request) -> JSONResponse:
        settings = self.jobs.engines.settings
        ids = [settings.models.stt, settings.models.tts, settings.models.llm, "whisper-1", "tts-1"]
        return JSONResponse({"object": "list", "data": [
            {"id": model, "object": "model", "created": 0, "owned_by": "parley"} for model in ids]})

    async def transcriptions(self, request: Request):
        from assistant.audio_files import AudioFileError, read_audio
        from assistant.models.errors import ModelError

        async with request.form(max_files=1, max_fields=16, max_part_size=64 * 1024) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ApiError(400, "send the recording as the multipart field 'file'", "file")
            response_format = str(form.get("response_format") or "json")
            if response_format not in ("json", "text", "verbose_json"):
                raise ApiError(400, f"response_format {response_format!r}: use json, text or verbose_json",
                               "response_format")
            try:
                language = checked_language(str(form.get("language") or ""))
            except JobError as exc:
                raise ApiError(exc.status, exc.message, exc.param) from None
            suffix = Path(upload.filename or "audio.wav").suffix[:8] or ".wav"
            with tempfile.TemporaryDirectory(prefix="parley-upload-") as folder:
                path = Path(folder) / f"upload{suffix}"
                with path.open("wb") as out:
                    while chunk := await upload.read(1 << 20):
                        out.write(chunk)
                try:
                    audio = await anyio.to_thread.run_sync(read_audio, path)
                    heard = await _while_connected(request, self.jobs.transcribe, audio, language)
                except AudioFileError as exc:
                    raise ApiError(400, str(exc).replace(str(path), upload.filename or "the file"), "file") from None
                except JobError as exc:
                    raise ApiError(exc.status, exc.message, exc.param) from None
                except ModelError as exc:
                    raise ApiError(400, str(exc), "language") from None
        if response_format == "text":
            return PlainTextResponse(heard.text + "\n")
        if response_format == "json":
            return JSONResponse({"text": heard.text})
        return JSONResponse({"task": "transcribe", "language": heard.language, "duration": round(heard.duration_s, 3),
                             "text": heard.text, "segments": [], "timings_ms": heard.timings_ms})

    async def speech(self, request: Request) -> StreamingResponse:
        body = await _json_object(request)
        text = body.get("input")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "'input' must be the text to speak", "input")
        if len(text) > MAX_TEXT_CHARS:
            raise ApiError(400, f"'input' is over {MAX_TEXT_CHARS} characters; send it in parts", "input")
        response_format = body.get("response_format", "wav")
        if response_format not in ("wav", "pcm"):
            raise ApiError(400, f"response_format {response_format!r}: Parley speaks wav or pcm (24 kHz, 16-bit)",
                           "response_format")
        try:
            voice = self.jobs.voice(str(body.get("voice") or ""), text)
        except JobError as exc:
            raise ApiError(exc.status, exc.message, exc.param) from None

        def work(out, stopped) -> None:
            self.jobs.speak(text, voice, lambda audio: out(_pcm16(audio)), stopped)

        header = [_streamed_wav_header(SPEECH_RATE)] if response_format == "wav" else []
        return StreamingResponse(_streamed(work, first=header), media_type=f"audio/{response_format}")

    async def chat(self, request: Request):
        body = await _json_object(request)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and isinstance(m.get("content", ""), str) and m.get("role") in
                ("system", "user", "assistant") for m in messages):
            raise ApiError(400, "'messages' must be a list of {role: system|user|assistant, content: text}",
                           "messages")
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens") or 256
        if not isinstance(max_tokens, int) or not 1 <= max_tokens <= MAX_CHAT_TOKENS:
            raise ApiError(400, f"max_tokens must be a whole number from 1 to {MAX_CHAT_TOKENS}", "max_tokens")
        model = str(body.get("model") or self.jobs.engines.settings.models.llm)
        ident, created = "chatcmpl-" + uuid.uuid4().hex[:24], int(time.time())
        plain = [{"role": m["role"], "content": m.get("content", "")} for m in messages]

        def work(out, stopped) -> None:
            self.jobs.complete(plain, max_tokens, out, stopped)

        if not body.get("stream"):
            pieces: list[str] = []
            async for piece in _streamed(work):
                pieces.append(piece)
            return JSONResponse({"id": ident, "object": "chat.completion", "created": created, "model": model,
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(pieces)},
                                              "finish_reason": "stop"}]})

        def chunk(delta: dict, finish: str | None = None) -> str:
            return "data: " + json.dumps({"id": ident, "object": "chat.completion.chunk", "created": created,
                                          "model": model, "choices": [{"index": 0, "delta": delta,
                                                                       "finish_reason": finish}]}) + "\n\n"

        async def events():
            yield chunk({"role": "assistant", "content": ""})
            async for piece in _streamed(work):
                yield chunk({"content": piece})
            yield chunk({}, "stop")
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers={"cache-control": "no-cache"})


async def _json_object(request: Request) -> dict:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise ApiError(400, "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body


async def _while_connected(request: Request, work, *args):
    """`work(*args, stopped)` on a worker thread, `stopped()` turning True if the client goes away meanwhile (a
    request waiting for the conversation to leave the floor is dropped then, not run for nobody)."""
    gone = threading.Event()

    async def watch() -> None:
        while not await request.is_disconnected():
            await anyio.sleep(DISCONNECT_POLL_S)
        gone.set()

    def run():  # (its error is raised out here: from inside the task group it would come wrapped in an ExceptionGroup)
        try:
            return work(*args, gone.is_set), None
        except Exception as exc:
            return None, exc

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(watch)
        result, failure = await anyio.to_thread.run_sync(run)
        tasks.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return result


async def _streamed(work, first: list | None = None):
    """What `work(out, stopped)` hands to `out` on a thread of its own, as an async stream. When the stream is
    closed early (the client went away), `stopped()` turns True and the work ends at its next piece."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def hand(item) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the server stopped (its loop closed): nobody waits for this any more
            stop.set()

    def run() -> None:
        try:
            work(hand, stop.is_set)
        except Exception as exc:  # said to the client as the stream's end (its status is already sent)
            log.exception("an API job failed")
            hand(exc)
        finally:
            hand(_END)

    threading.Thread(target=run, name="api-job", daemon=True).start()
    try:
        for item in first or ():
            yield item
        while (item := await queue.get()) is not _END:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()


def _pcm16(audio) -> bytes:
    import numpy as np

    return (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def _streamed_wav_header(rate: int) -> bytes:
    """A WAV header for a stream of unknown length (its sizes 0xFFFFFFFF, as OpenAI's own API sends)."""
    return (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"fmt " +
            struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", 0xFFFFFFFF))
