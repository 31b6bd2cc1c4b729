"""The chat model on llama.cpp, in-process through the `xllamacpp` wheel: the fast engine on CPUs.

The GGUF file is used as it is. llama.cpp keeps the last prompt in its KV cache and reads only what a new
prompt adds to it, so a follow-up turn costs its own tokens, and `prefill` reads the next prompt ahead.

xllamacpp runs llama.cpp's own server loop; its HTTP side cannot be turned off, so it listens on a Unix
socket in a folder only this user can open (no network port), and Parley uses it for the two things the
in-process calls lack: rendering the chat template, counting tokens, and saving and restoring the system
prompt's cache (`saved_prompts.py`). Replies stream in-process.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import queue
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import CancelledError, Future
from pathlib import Path

from assistant.chat.engine import ChatEngine
from assistant.chat.history import UNTIED, ChatHistory
from assistant.chat.prompt import ChatConfig, Message, ReplyTimings, trim_history
from assistant.chat.saved_prompts import SavedPrompts
from assistant.chat.tool_calls import ToolCallDelta, read_calls, tool_exchange
from assistant.runtime.job_thread import JobThread
from assistant.runtime.paths import cache_dir
from assistant.runtime.shutdown import quitting
from assistant.models.errors import ModelError
from assistant.tools.tool import Call

log = logging.getLogger(__name__)

_DONE = object()
SOCKET_TIMEOUT_S = 10  # template and token counts answer in about a millisecond; this only bounds a stuck server


class LlamaCppChat(ChatEngine):
    """A GGUF chat model on llama.cpp. Loading, prefills and replies run in order on the "llama.cpp" thread."""

    name = "llama.cpp"

    def __init__(self, model_file: Path, config: ChatConfig = ChatConfig(), model_id: str = "",
                 history: ChatHistory | None = None, threads: int | None = None,
                 saved_prompts_dir: Path | None = None, slots: int = 1) -> None:
        """`saved_prompts_dir`: where system prompts' caches are kept (default: the platform's cache folder).
        `slots` 2: a second KV cache of the same length for `complete` (the API beside the app), so that the
        conversation's cached prompt stays where it is."""
        super().__init__(config, model_id or Path(model_file).stem, history)
        self.model_file = Path(model_file)
        self.threads = threads or os.cpu_count() or 2
        self.slots = slots
        self._saved_prompts_dir = Path(saved_prompts_dir or cache_dir() / "prompts")
        self._saved_prompts: SavedPrompts | None = None
        # False until the slot holds a system prompt (restored from disk, or read in and saved): a fresh process's.
        self.slot_primed = False
        # A daemon: a quitting app must not wait for a model load, which llama.cpp cannot cut short.
        self._jobs = JobThread("llama.cpp", daemon=True)
        self._server = None  # xllamacpp.Server, made and dropped on the llama.cpp thread
        self._last_messages: list[dict] = []  # the last reply's request (a tool's result goes on from it)
        self._socket_dir: Path | None = None
        self._closing = threading.Event()  # set by close(): a load not yet begun is not begun

    # --- the interface -------------------------------------------------------------------------------------

    def start_loading(self) -> Future:
        return self._jobs.submit(self._load)

    def reply(self, user_text: str, language: str | None = None, offer_tools: bool = True) -> Iterator[str | Call]:
        generation, history = self.chat_history.begin_reply()
        messages = self._messages(history, user_text, language)
        self.chat_history.add_user(user_text)
        self._last_messages = messages
        tools = self.tool_specs() if offer_tools else []
        stream = self._stream(messages, generation, self.config.max_reply_tokens, record=True, tools=tools)
        return read_calls(stream, self.tool_names()) if tools else stream

    def reply_with_result(self, call: Call, result: str, language: str | None = None) -> Iterator[str]:
        messages = self._last_messages + tool_exchange(call, result)
        return self._stream(messages, self.chat_history.generation, self.config.max_reply_tokens, record=True,
                            tools=self.tool_specs())

    def complete(self, messages: list[dict], max_tokens: int, so_far: str = "") -> Iterator[str]:
        if so_far:  # (llama.cpp goes on from a last assistant message)
            messages = messages + [{"role": "assistant", "content": so_far}]
        return self._stream(messages, UNTIED, max_tokens, record=False, slot=self.slots - 1)

    def warm_up(self, language: str | None = None) -> Future:
        def warm() -> None:
            messages = self._messages([], "Hello.", language)
            for _ in self._stream(messages, self.chat_history.generation, 1, record=False, tools=self.tool_specs()):
                pass

        # On its own thread: _stream hands its request to the llama.cpp thread and waits for the tokens.
        future: Future = Future()
        threading.Thread(target=_run_into, args=(future, warm), name="llama.cpp-warm-up", daemon=True).start()
        return future

    def prefill(self, user_text: str | None = None, language: str | None = None) -> Future:
        generation, history = self.chat_history.generation, self.chat_history.messages
        return self._jobs.submit(self._prefill, history, user_text, language, generation)

    def count_tokens(self, text: str) -> int:
        return len(self._post("/tokenize", {"content": text, "add_special": False, "parse_special": False})["tokens"])

    def close(self, timeout: float | None = None) -> None:
        """Cancel what has not started, free the model on its thread, and remove the socket's folder."""
        self.chat_history.cancel()
        self._closing.set()
        try:
            self._jobs.submit(self._unload)
        except RuntimeError:
            pass  # already closed
        self._jobs.close(timeout)

    # --- on the llama.cpp thread ---------------------------------------------------------------------------

    def _load(self) -> None:
        if self._server is not None:
            return
        import xllamacpp

        from assistant.models.importers.gguf_llm import is_gguf_file

        if not self.model_file.is_file() or not is_gguf_file(self.model_file):
            raise ModelError(f"the chat model {self.model_id} has no GGUF file at {self.model_file}; reinstall it "
                             f"with `parley models pull {self.model_id}` (or `parley models setup`)")
        started = time.perf_counter()
        self._socket_dir = Path(tempfile.mkdtemp(prefix="parley-llama-"))  # mode 0700: this user only
        params = xllamacpp.CommonParams()
        params.model.path = str(self.model_file)
        # One conversation: one slot (0), whose KV cache carries over from turn to turn; a second for other programs.
        params.n_parallel = self.slots
        params.kv_unified = False  # each slot a cache of its own, of the full context
        params.n_ctx = self.config.context_tokens * self.slots
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.hostnames = [str(self._socket_dir / "llama.sock")]
        params.verbosity = -1  # llama.cpp's own log lines would flood the terminal; its errors still show
        params.warmup = False  # warm_up() does it, when the caller wants it
        # No trial load to fit the context and layers to a GPU's memory: the context is set here and there is no GPU
        # to fit. It halves the load (1.4 -> 0.7 s for the default model), and the load holds the GIL throughout
        # (xllamacpp's Server constructor), which keeps Ctrl+C's handler from running until it ends.
        params.fit_params = False
        # No copies of past prompts' KV caches in memory: llama.cpp's server keeps them (up to 8 GB by default) for
        # clients that switch between prompts. One conversation only ever continues its own, and in the hour's soak
        # every turn once the context was full added ~20 MB (1.39 -> 1.83 GB in 7 minutes).
        params.cache_ram_mib = 0
        params.endpoint_slots = True
        params.slot_save_path = str(self._saved_prompts_dir) + os.sep  # llama.cpp appends the file name as it is
        _read_into_page_cache(self.model_file)
        if self._closing.is_set() or quitting():
            # Once begun, the load holds the GIL to its end: on a busy machine long enough that a quit's watchdog
            # cannot run, and the C-level backstop ends the process with status 1 instead of the quit's own.
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            raise CancelledError("quitting: the chat model was not loaded")
        try:
            self._server = xllamacpp.Server(params)
        except RuntimeError as exc:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            raise ModelError(
                f"the chat model {self.model_id} ({self.model_file}) does not load in llama.cpp: the file may be "
                f"damaged or of an architecture this llama.cpp does not know. Reinstall it with "
                f"`parley models pull {self.model_id}`, or choose another chat model"
            ) from exc
        # (A slot's cache saved beside one slot does not restore beside two: the slots are part of its name.)
        self._saved_prompts = SavedPrompts(self._saved_prompts_dir, self.model_file, self.config.context_tokens,
                                           f"{xllamacpp.__version__}|{self.slots} slots")
        self.slot_primed = False
        log.info("loaded %s on llama.cpp (%d threads) in %.0f ms", self.model_id, self.threads,
                 1000 * (time.perf_counter() - started))

    def _prime_slot(self, system: dict) -> None:
        """Once per process, before its first prompt: the slot's cache of the `system` message, restored from disk
        or read in now and saved for the next process. Never raises: at worst the prompt is read in as usual."""
        if self.slot_primed:
            return
        self.slot_primed = True
        started = time.perf_counter()
        try:
            one, two = (self._render([system, {"role": "user", "content": text}]) for text in ("a", "b"))
            prefix = os.path.commonprefix([one, two])
            saved = self._saved_prompts
            name = saved.name_for(prefix)
            if saved.has(name):
                try:
                    self._post("/slots/0?action=restore", {"filename": name})
                    log.info("system prompt's cache restored in %.0f ms", 1000 * (time.perf_counter() - started))
                    return
                except ModelError as exc:
                    log.warning("the saved system prompt's cache did not restore (%s); reading it in again", exc)
                    saved.forget(name)
            self._server.handle_completions({"prompt": prefix, "n_predict": 0, "cache_prompt": True, "id_slot": 0})
            temporary = saved.temporary_name(name)
            self._post("/slots/0?action=save", {"filename": temporary})
            saved.keep(temporary, name)
            log.info("system prompt read in and its cache saved in %.0f ms", 1000 * (time.perf_counter() - started))
        except (ModelError, OSError) as exc:
            log.warning("the system prompt's cache could not be saved (%s); it is read in with each new start", exc)

    def _unload(self) -> None:
        self._server = None  # the Server's destructor stops llama.cpp's loop and frees the model
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    def _prefill(self, history: list[Message], user_text: str | None, language: str | None, generation: int) -> None:
        if not self.chat_history.is_current(generation):
            return  # a reply or a reset came first: its cache is the one to keep
        self._load()
        self._prime_slot({"role": "system", "content": self.system_text(language)})
        if user_text is None:
            prompt = self._history_prefix(history, language)
        else:
            prompt = self._render(self._messages(history, user_text, language))
        result = self._server.handle_completions({"prompt": prompt, "n_predict": 0, "cache_prompt": True, "id_slot": 0})
        if isinstance(result, dict) and "error" in result:
            log.warning("prefill failed: %s", result["error"])

    def _forget_cached_prompt(self) -> None:
        pass  # the next prompt shares no prefix with the old one beyond the system prompt; llama.cpp finds that itself

    # --- prompts -------------------------------------------------------------------------------------------

    def _messages(self, history: list[Message], user_text: str, language: str | None) -> list[dict]:
        def count(messages: list[dict]) -> int:
            prompt = self._render(messages)
            return len(self._post("/tokenize", {"content": prompt, "add_special": True, "parse_special": True})["tokens"])

        return trim_history(self.system_text(language), history, user_text, count, self.config.prompt_budget)

    def _render(self, messages: list[dict]) -> str:
        """The prompt text of `messages` through the model's own chat template (with the tools offered), ending
        where the reply starts."""
        tools = self.tool_specs()
        return self._post("/apply-template", {"messages": messages, **({"tools": tools} if tools else {})})["prompt"]

    def _history_prefix(self, history: list[Message], language: str | None) -> str:
        """The prompt up to where the next user message will start: what any next turn begins with.
        Found as the shared start of two prompts that differ only in that message, for any template."""
        messages = self._messages(history, "", language)[:-1]
        one = self._render(messages + [{"role": "user", "content": "a"}])
        two = self._render(messages + [{"role": "user", "content": "b"}])
        return os.path.commonprefix([one, two])

    def _post(self, path: str, body: dict) -> dict:
        if self._server is None:
            self._jobs.call(self._load)
        connection = _UnixHttpConnection(str(self._socket_dir / "llama.sock"), SOCKET_TIMEOUT_S)
        try:
            connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            response = connection.getresponse()
            data = json.loads(response.read())
        except (OSError, ValueError) as exc:
            raise ModelError(f"llama.cpp stopped answering ({path}: {exc}); restart Parley") from exc
        finally:
            connection.close()
        if response.status != 200:
            raise ModelError(f"llama.cpp refused {path}: {data.get('error', data)}")
        return data

    # --- replies -------------------------------------------------------------------------------------------

    def _stream(self, messages: list[dict], generation: int, max_tokens: int, record: bool,
                tools: list[dict] | None = None, slot: int = 0) -> Iterator[str]:
        """Ask for the reply on the llama.cpp thread and hand its deltas to the caller as they come.

        llama.cpp calls back once per chunk; the callback's True stops it there, which is how a cancelled
        or abandoned reply ends before its next token."""
        deltas: queue.SimpleQueue = queue.SimpleQueue()
        abandoned = threading.Event()
        request = {
            "messages": messages, "stream": True, "max_tokens": max_tokens, "cache_prompt": True,
            "temperature": self.config.temperature, "top_p": 0.9 if self.config.temperature else 1.0,
            "repeat_penalty": self.config.repetition_penalty, "repeat_last_n": 64, "id_slot": slot,
        }
        if tools:
            request["tools"] = tools

        def on_chunk(chunk: dict) -> bool:
            if abandoned.is_set() or not self.chat_history.is_current(generation):
                return True
            if "error" in chunk or "code" in chunk:
                error = chunk.get("error", chunk)
                deltas.put(ModelError(f"llama.cpp could not answer: {error.get('message', error)}"))
                return True
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    deltas.put(delta["content"])
                for call in delta.get("tool_calls") or ():
                    deltas.put(ToolCallDelta(call))
            if "timings" in chunk:
                deltas.put(chunk["timings"])
            return False

        def produce() -> None:
            try:
                self._load()
                if generation != UNTIED:  # (a program's own messages are no conversation's prompt)
                    self._prime_slot(messages[0])
                self._server.handle_chat_completions(request, on_chunk)
            except BaseException as exc:  # handed to the consumer, which re-raises it
                deltas.put(exc)
            finally:
                deltas.put(_DONE)

        sent = time.perf_counter()
        job = self._jobs.submit(produce)
        # A job cancelled before it ran (the thread closing) never produces: the consumer must not wait on it.
        job.add_done_callback(lambda f: deltas.put(CancelledError()) if f.cancelled() else None)
        first_at = last_at = None
        received = 0
        try:
            while True:
                item = deltas.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, ToolCallDelta):
                    yield dict(item)
                    continue
                if isinstance(item, dict):  # llama.cpp's timings, in the last chunk: its count of tokens
                    tokens = int(item.get("predicted_n", 0))
                    if record and first_at is not None and self.chat_history.is_current(generation):
                        # The rate as the caller received the pieces (one per token as llama.cpp streams), first to
                        # last, thread hand-offs included. (Its token count would include tokens sent before the
                        # first piece or after the last, which inflated the rate of a short reply by a third.)
                        rate = (received - 1) / (last_at - first_at) if received > 1 and last_at > first_at else 0.0
                        self.last_timings = ReplyTimings(1000 * (first_at - sent), tokens, rate)
                    continue
                last_at = time.perf_counter()
                first_at = first_at or last_at
                received += 1
                if not self.chat_history.is_current(generation):
                    log.info("reply cancelled")
                    return
                yield item
        finally:
            abandoned.set()


def _run_into(future: Future, fn) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(fn())
    except BaseException as exc:
        future.set_exception(exc)


class _UnixHttpConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket (the standard library speaks HTTP only over TCP)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def _read_into_page_cache(path: Path, chunk: int = 16 << 20) -> None:
    """Read the model file once, discarding it, so that llama.cpp maps it from memory. xllamacpp's Server
    constructor holds the GIL while it loads: from a cold disk that took 1.45 s instead of 0.74 (2.8 s beside
    Whisper's own load), and Ctrl+C's handler waits for it. Reading here releases the GIL at every chunk."""
    buffer = bytearray(chunk)
    try:
        with open(path, "rb", buffering=0) as file:
            while file.readinto(buffer):
                pass
    except OSError:
        pass  # the constructor says what is wrong with the file
