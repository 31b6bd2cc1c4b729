"""`parley doctor`: is everything Parley needs here and working? One line per check, with the fix."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Finding:
    """One check's outcome. FAIL means the app cannot start; WARN means a feature is missing."""

    check: str
    status: str
    detail: str
    fix: str = ""


def run_checks() -> Iterator[Finding]:
    """Run every check in order, yielding findings as they come (model loading takes seconds)."""
    yield _python()
    yield from _mlx()
    settings, finding = _settings()
    yield finding
    yield from _audio(settings)
    yield from _models(settings)
    yield from _speech_engine(settings)
    yield from _voice_server(settings)
    yield from _chat_engine(settings)
    yield from _tools(settings)
    yield hotkey_permission()


def _python() -> Finding:
    version = platform.python_version()
    where = f"{platform.system()} {platform.machine()}, Python {version}"
    if sys.version_info < (3, 11):
        return Finding("python", FAIL, where, "Parley needs Python 3.11 or newer")
    if sys.platform == "darwin" and platform.machine() != "arm64":
        return Finding("python", FAIL, where, "on a Mac, Parley needs Apple Silicon (MLX runs on M-series chips)")
    return Finding("python", OK, where)


def _mlx() -> Iterator[Finding]:
    try:
        import mlx.core as mx
    except Exception as exc:  # a broken wheel raises ImportError or OSError from the loader
        yield Finding("mlx", FAIL, f"cannot import MLX ({exc})", "run `make run` again to reinstall the packages")
        return
    device = mx.default_device()
    gpu = device.type == mx.DeviceType.gpu
    yield Finding("mlx", OK, f"MLX {mx.__version__} on the {'Metal GPU' if gpu else 'CPU'}")
    from assistant.runtime.blas import active_blas

    blas = active_blas()
    if blas.optimized:
        yield Finding("blas", OK, blas.library)
    else:
        yield Finding(
            "blas", WARN, f"{blas.library} (slow reference BLAS: speech and replies are about 30x slower)",
            "install OpenBLAS: `sudo apt-get install libopenblas0-pthread` (Debian/Ubuntu)",
        )


def _settings():
    from assistant.runtime.settings import Settings, SettingsError, load_settings, settings_path

    try:
        settings = load_settings()
    except SettingsError as exc:
        return Settings(), Finding("settings", FAIL, str(exc), f"fix the value, or delete {settings_path()}")
    where = settings_path()
    return settings, Finding("settings", OK, f"{where}" + ("" if where.exists() else " (not saved yet: defaults)"))


def _audio(settings) -> Iterator[Finding]:
    try:
        import sounddevice as sd
    except OSError as exc:
        yield Finding("audio", FAIL, f"PortAudio is missing ({exc})",
                      "install it: `sudo apt-get install libportaudio2` (Debian/Ubuntu); on a Mac reinstall Parley")
        return
    have_input = False
    for kind, wanted in (("input", settings.audio.input_device), ("output", settings.audio.output_device)):
        name = "microphone" if kind == "input" else "speaker"
        try:
            info = sd.query_devices(wanted or None, kind=kind)
        except (ValueError, sd.PortAudioError) as exc:
            if wanted:
                fix = f"connect it, or pick another {name} in Settings (audio.{kind}_device)"
            elif kind == "input":
                fix = "connect a microphone; without one Parley still answers typed questions"
            else:
                fix = "connect a speaker or headphones; without one Parley's replies are shown as text only"
            yield Finding(name, WARN, f"no usable {kind} device{f' named {wanted!r}' if wanted else ''} ({exc})", fix)
            continue
        have_input |= kind == "input"
        yield Finding(name, OK, f"{info['name']} ({int(info['default_samplerate'])} Hz)")
    if have_input or sys.platform == "darwin":
        yield _microphone_permission(settings)


def _microphone_permission(settings) -> Finding:
    if sys.platform == "darwin":
        status = _macos_microphone_authorization()
        if status == "granted":
            return Finding("microphone permission", OK, "granted")
        if status == "denied":
            return Finding("microphone permission", FAIL, "denied",
                           "System Settings → Privacy & Security → Microphone: turn on Parley (or your terminal)")
        return Finding("microphone permission", WARN, status, "macOS will ask the first time Parley listens")
    import sounddevice as sd

    try:
        with sd.InputStream(device=settings.audio.input_device or None, channels=1, samplerate=16000, blocksize=512):
            pass
    except Exception as exc:  # PortAudioError, or ValueError for a vanished device
        return Finding("microphone permission", WARN, f"cannot open the microphone ({exc})",
                       "check that your user may use the sound devices (e.g. the 'audio' group) and that no other "
                       "program holds the device")
    return Finding("microphone permission", OK, "the microphone opens")


def _macos_microphone_authorization() -> str:
    """AVCaptureDevice's authorization status for audio, through the Objective-C runtime."""
    try:
        objc = ctypes.cdll.LoadLibrary(ctypes.util.find_library("objc"))
        ctypes.cdll.LoadLibrary("/System/Library/Frameworks/AVFoundation.framework/AVFoundation")
        objc.objc_getClass.restype = ctypes.c_void_p
        objc.sel_registerName.restype = ctypes.c_void_p
        send = objc.objc_msgSend
        send.restype = ctypes.c_void_p
        send.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p]
        media_type = send(objc.objc_getClass(b"NSString"), objc.sel_registerName(b"stringWithUTF8String:"), b"soun")
        send.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        send.restype = ctypes.c_long
        status = send(objc.objc_getClass(b"AVCaptureDevice"),
                      objc.sel_registerName(b"authorizationStatusForMediaType:"), media_type)
    except (OSError, AttributeError, TypeError):
        return "unknown (could not ask macOS)"
    return {0: "not asked yet", 1: "restricted", 2: "denied", 3: "granted"}.get(status, "unknown")


def hotkey_permission() -> Finding:
    """Whether the push-to-talk key can work here (macOS: its two permissions; Linux: an X display). Also read by
    the app (ui/hotkey.py) to say which permission macOS still lacks."""
    name = "hotkey permission"
    if sys.platform == "darwin":
        try:
            services = ctypes.cdll.LoadLibrary(
                "/System/Library/Frameworks/ApplicationServices.framework/ApplicationServices")
            trusted = bool(services.AXIsProcessTrusted())
            iokit = ctypes.cdll.LoadLibrary("/System/Library/Frameworks/IOKit.framework/IOKit")
            listen_access = iokit.IOHIDCheckAccess(1)  # kIOHIDRequestTypeListenEvent → 0 granted
        except (OSError, AttributeError):
            return Finding(name, WARN, "could not ask macOS", "")
        if trusted and listen_access == 0:
            return Finding(name, OK, "Accessibility and Input Monitoring granted")
        missing = [label for label, ok in (("Accessibility", trusted), ("Input Monitoring", listen_access == 0)) if not ok]
        return Finding(name, WARN, f"{' and '.join(missing)} not granted: the push-to-talk key won't work",
                       f"System Settings → Privacy & Security → {missing[0]}: turn on Parley (or your terminal)")
    display = os.environ.get("DISPLAY")
    if not display:
        wayland = " (Wayland without XWayland)" if os.environ.get("WAYLAND_DISPLAY") else ""
        return Finding(name, WARN, f"no X display{wayland}: the global push-to-talk key needs one",
                       "run Parley inside an X11 session (or XWayland); hands-free listening works without it")
    try:
        xlib = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11") or "libX11.so.6")
        xlib.XOpenDisplay.restype = ctypes.c_void_p
        handle = xlib.XOpenDisplay(display.encode())
        if not handle:
            return Finding(name, WARN, f"cannot open X display {display}", "check DISPLAY and xhost/XAUTHORITY")
        xlib.XCloseDisplay(ctypes.c_void_p(handle))
    except OSError:
        return Finding(name, WARN, "libX11 is missing", "install it: `sudo apt-get install libx11-6`")
    return Finding(name, OK, f"X display {display}")


def _models(settings) -> Iterator[Finding]:
    from assistant.cli.model_check import check_loadable
    from assistant.models.errors import ModelError
    from assistant.models.store import ModelStore

    store = ModelStore()
    chosen = settings.models
    for kind, model_id in (("vad", chosen.vad), ("stt", chosen.stt), ("llm", chosen.llm), ("tts", chosen.tts),
                           ("turn", chosen.turn)):
        label = f"model {kind}"
        model = store.get(model_id)
        if model is None:
            yield Finding(label, FAIL, f"{model_id} is not installed in {store.root}",
                          f"`parley models setup` (default pack) or `parley models pull {model_id}`")
            continue
        if model.kind != kind:
            yield Finding(label, FAIL, f"{model_id} is a {model.kind} model, not {kind}",
                          f"set models.{kind} to a {kind} model (`parley models list`)")
            continue
        try:
            check_loadable(model)
        except ModelError as exc:
            yield Finding(label, FAIL, str(exc), f"parley models remove {model_id}; then install it again")
            continue
        yield Finding(label, OK, f"{model_id} ({model.format}, {', '.join(model.languages)}) loads")
        language = settings.conversation.language
        if kind == "stt" and language != "auto" and not model.speaks(language):
            yield Finding("language stt", WARN, f"{model_id} does not handle language {language!r}",
                          "choose a multilingual Whisper (e.g. whisper-base) in Settings, or `parley models list` "
                          "to see what fits")
    yield _voices(settings, store)


# How well the voices of the default pack are understood, heard back by Whisper (`make bench`: benchmarks/languages.py,
# five everyday sentences, 2026-12-07; the README's languages table has more).
_HEARD_BACK = {("piper-en_US-joe-medium", "en"): "8.8% WER", ("kokoro", "ko"): "5.6% CER", ("kokoro", "zh"): "2.4% CER"}


def _voices(settings, store) -> Finding:
    """Which voice reads replies in each language Parley offers (the chosen language first)."""
    from assistant.conversation.engines import choose_voice
    from assistant.runtime.settings import LANGUAGES

    language = settings.conversation.language
    languages = [code for code in LANGUAGES if code != "auto"]
    if language in languages:
        languages.remove(language)
        languages.insert(0, language)
    readers: dict[tuple[str, str], list[str]] = {}
    unspoken = []
    for code in languages:
        choice = choose_voice(store, settings.models.tts, code)
        if choice.fits:
            readers.setdefault((choice.name, choice.voice_id), []).append(code)
        else:
            unspoken.append(code)

    def heard(voice_id: str, codes: list[str]) -> str:
        figures = [f"{code} {_HEARD_BACK[voice_id, code]}" for code in codes if (voice_id, code) in _HEARD_BACK]
        return f" (heard back: {', '.join(figures)})" if figures else ""

    detail = "; ".join(f"{', '.join(codes)}: {name}{heard(voice_id, codes)}"
                       for (name, voice_id), codes in readers.items())
    if unspoken:
        detail += f"; no voice for {', '.join(unspoken)} (read by {settings.models.tts})"
    if language != "auto" and language in unspoken:
        return Finding("voices", WARN, detail, "install a voice for it (`parley models list`), or espeak-ng "
                       "(sudo apt-get install espeak-ng) for the system's")
    return Finding("voices", OK, detail)


def _speech_engine(settings) -> Iterator[Finding]:
    """Which engine hears (faster-whisper on CPUs, MLX on Metal), and why that one."""
    from assistant.models.errors import ModelError
    from assistant.models.store import ModelStore
    from assistant.transcribe.transcriber import ENGINE_ENV, engine_choice

    model = ModelStore().get(settings.models.stt)
    if model is None or model.kind != "stt":
        return  # the model check above has said what to do
    try:
        choice = engine_choice(model.path)
    except ModelError as exc:
        yield Finding("speech engine", FAIL, str(exc), f"unset {ENGINE_ENV}, or set it to mlx or ct2")
        return
    yield Finding("speech engine", WARN if choice.slow else OK, f"{model.id}: {choice.why}",
                  f"reinstall it for faster-whisper: parley models remove {model.id}; then parley models setup")
    if settings.speech_to_text.server_url.strip():
        from assistant.transcribe.server_speech import ServerSpeech

        try:
            server = ServerSpeech(settings.speech_to_text.server_url, settings.speech_to_text.server_model)
        except ModelError as exc:  # an address that is not one
            yield Finding("speech server", FAIL, str(exc), "correct [speech_to_text] server_url in the settings")
            return
        yield Finding("speech server", OK, f"{server.describe()} hears first; {model.id} here when it can't")


def _voice_server(settings) -> Iterator[Finding]:
    """The voice server, when one is set: which voices it reads with."""
    if not settings.voice.server_url.strip():
        return
    from assistant.models.errors import ModelError
    from assistant.servers.server_address import ServerAddress
    from assistant.speak.server_voice import SERVICE

    try:
        url = ServerAddress.parse(settings.voice.server_url, SERVICE).display
    except ModelError as exc:
        yield Finding("voice server", FAIL, str(exc), "correct [voice] server_url in the settings")
        return
    voices = settings.voice.server_voice.strip() or "af_heart for English, zf_xiaoxiao for Mandarin"
    yield Finding("voice server", OK, f"{url} reads with {voices}; the voices here read what it can't")


def _chat_engine(settings) -> Iterator[Finding]:
    """Which engine answers, and why that one; a server is asked whether it answers."""
    from assistant.chat.choice import apple_gpu, local_engine
    from assistant.models.errors import ModelError
    from assistant.models.store import ModelStore

    setting = settings.chat.engine
    model = ModelStore().get(settings.models.llm)
    if model is None or model.kind != "llm":
        return  # the model check above has said what to do
    try:
        local = local_engine(setting, model)
    except ModelError as exc:
        yield Finding("chat engine", FAIL, str(exc), "change [chat] engine in Settings, or choose another chat model")
        return
    why = {"auto": "auto: " + ("an Apple GPU" if apple_gpu() else "no Apple GPU, so llama.cpp where the model allows")}
    yield Finding("chat engine", OK, f"{model.id} on {local} ({why.get(setting, 'the setting')})"
                  + (" stands in when the server can't answer" if setting == "server" else ""))


def _tools(settings) -> Iterator[Finding]:
    """The tools: on or off, and each MCP server reached and asked for its tools."""
    if not settings.tools.enabled:
        yield Finding("tools", OK, "off ([tools] enabled = false): Parley only talks")
        return
    from assistant.runtime.settings import SettingsError
    from assistant.tools.mcp_config import load_mcp_servers, mcp_servers_path

    offered = "offered to the chat model" if settings.tools.offer_to_model else "the spoken commands only"
    yield Finding("tools", OK, f"timers, alarms, the time, sums, conversions, memory, opening things ({offered})")
    try:
        servers = load_mcp_servers()
    except SettingsError as exc:
        yield Finding("MCP servers", WARN, str(exc), f"fix or delete {mcp_servers_path()}")
        return
    if not servers:
        return
    from assistant.tools.mcp_servers import McpServers

    problems: list[str] = []
    mcp = McpServers(servers, on_problem=problems.append)
    try:
        mcp.connect_all()
    finally:
        mcp.close()
    for server in servers:
        mine = sorted(tool.name for tool in mcp.listed(server.name))
        problem = next((p for p in problems if f"MCP server {server.name} " in p), "")
        if problem:
            yield Finding(f"MCP server {server.name}", WARN, problem, f"correct it in Settings (Tools) or in "
                          f"{mcp_servers_path()}")
        else:
            yield Finding(f"MCP server {server.name}", OK, f"{len(mine)} tools: {', '.join(mine) or 'none'}")


def print_report(findings: Callable[[], Iterator[Finding]] = run_checks) -> int:
    """Print each finding as it comes; return 1 if Parley cannot start, else 0."""
    failed = False
    marks = {OK: "ok  ", WARN: "warn", FAIL: "FAIL"}
    for finding in findings():
        print(f"[{marks[finding.status]}] {finding.check}: {finding.detail}", flush=True)
        if finding.fix and finding.status != OK:
            print(f"       fix: {finding.fix}", flush=True)
        failed |= finding.status == FAIL
    print("Parley cannot start until the FAIL lines are fixed." if failed else "Parley is ready.")
    return 1 if failed else 0
