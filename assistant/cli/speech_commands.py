"""`parley transcribe`, `listen`, `say`, `ask` and `reply`: the engines from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

from assistant.cli import checks as cli_checks
from assistant.runtime.settings import CHAT_ENGINES, WAKE_WORDS, heard_language


def add_speech_commands(commands) -> None:
    """Register the speech subcommands on the `parley` argument parser."""
    transcribe = commands.add_parser("transcribe", help="speech to text from an audio file")
    transcribe.add_argument("file", type=cli_checks.input_file, help="WAV, FLAC, OGG or MP3; any rate and channel count")
    transcribe.add_argument("--language", type=cli_checks.language,
                            help="ISO code such as en, ko, zh (or a name: german); default: the setting (auto = detect)")
    transcribe.add_argument("--model", type=cli_checks.model_id,
                            help="speech model id; default: the setting, or one that knows the language")
    transcribe.add_argument("--json", action="store_true", help='print {"text", "language", "timings_ms"}')
    transcribe.set_defaults(handler=_transcribe)

    listen = commands.add_parser("listen", help="hear a recording for the wake word: each time it is said")
    listen.add_argument("file", type=cli_checks.input_file, help="WAV, FLAC, OGG or MP3; any rate and channel count")
    listen.add_argument("--wake-word", choices=WAKE_WORDS, help="the phrase; default: the setting")
    listen.add_argument("--sensitivity", type=float, default=None, metavar="0-1",
                        help="0 = fewest false wakes, 1 = fewest missed wake words; default: the setting")
    listen.add_argument("--json", action="store_true",
                        help='print {"wake_word", "phrase", "seconds", "detections": [{"time_s", "probability"}]}')
    listen.set_defaults(handler=_listen)

    say = commands.add_parser("say", help="speak text with the voice")
    say.add_argument("text", type=cli_checks.text_for("say", "Hello there"))
    say.add_argument("-o", "--output", type=cli_checks.output_file, help="write a WAV file instead of playing")
    say.add_argument("--voice", type=cli_checks.model_id,
                     help="an installed voice (piper-en_US-joe-medium), a Kokoro style (kokoro:zm_yunxi) or a "
                          "system voice (system:espeak-ng:ko); default: the voice a conversation would read the "
                          "text's language with")
    say.set_defaults(handler=_say)

    ask = commands.add_parser("ask", help="ask the chat model; the reply streams to the terminal")
    ask.add_argument("text", type=cli_checks.text_for("ask", "What is the capital of France?"))
    ask.add_argument("--speak", action="store_true", help="also speak the reply")
    ask.add_argument("--engine", choices=CHAT_ENGINES,
                     help="which engine answers; default: the setting ([chat] engine)")
    ask.add_argument("--server", type=cli_checks.server_url, metavar="URL",
                     help="an OpenAI-compatible server, e.g. http://localhost:11434/v1 (implies --engine server)")
    ask.add_argument("--model", type=cli_checks.model_id, metavar="ID",
                     help="chat model: an installed model id, or with --server the server's model name")
    ask.set_defaults(handler=_ask)

    reply = commands.add_parser("reply", help="one whole spoken turn: question audio in, spoken answer out")
    reply.add_argument("input", type=cli_checks.input_file, help="the spoken question (WAV, FLAC, OGG, MP3)")
    reply.add_argument("-o", "--output", type=cli_checks.output_file, required=True, help="WAV file for the spoken answer")
    reply.add_argument("--language", type=cli_checks.language,
                       help="the language spoken (default: the setting; auto = detect): the reply is in it, read by "
                            "a voice that speaks it")
    reply.add_argument("--json", action="store_true",
                       help='print {"transcript", "language", "reply", "timings_ms": {"stt", "llm_first_token", "first_audio", "total"}}')
    reply.set_defaults(handler=_reply)


def _engines(kinds: tuple[str, ...], settings=None):
    """The engines for the settings (which load nothing yet), once the models the settings choose for
    the jobs in `kinds` are known to exist and to do that job: a bad settings.toml fails here, at once."""
    from assistant.conversation.engines import Engines
    from assistant.models.store import ModelStore
    from assistant.runtime.settings import load_settings

    settings = settings or load_settings()
    store = ModelStore()
    cli_checks.check_settings_models(settings, store, kinds)
    return Engines(settings, store)


def _listen(args: argparse.Namespace) -> int:
    from assistant.audio_files import read_audio
    from assistant.listen.wake_word import RATE

    if args.sensitivity is not None and not 0.0 <= args.sensitivity <= 1.0:
        print(f"parley: --sensitivity must be from 0 to 1, not {args.sensitivity}", file=sys.stderr)
        return 2
    engines = _engines(("wake",))
    listening = engines.settings.listening
    name = args.wake_word or listening.wake_word
    sensitivity = listening.wake_sensitivity if args.sensitivity is None else args.sensitivity
    detector = engines.wake_word_detector(name, sensitivity)
    audio = read_audio(args.file)
    detections = []
    for start in range(0, len(audio), RATE):  # a second at a time, as a stream
        for position in detector.push(audio[start:start + RATE]):
            detections.append({"time_s": round(position / RATE, 2), "probability": round(detector.last_probability, 3)})
    if args.json:
        print(json.dumps({"wake_word": name, "phrase": detector.phrase, "seconds": round(len(audio) / RATE, 2),
                          "detections": detections}))
    else:
        for found in detections:
            print(f"{found['time_s']:8.2f} s  {detector.phrase} ({found['probability']:.2f})")
        print(f"{detector.phrase!r} heard {len(detections)} time(s) in {len(audio) / RATE:.1f} s of {args.file}",
              file=sys.stderr)
    return 0


def _transcribe(args: argparse.Namespace) -> int:
    from assistant.audio_files import read_audio
    from assistant.conversation.one_turn import transcribe_recording

    engines = _engines(("vad",) if args.model else ("vad", "stt"))
    language = heard_language(args.language or engines.settings.conversation.language)
    if args.model:
        chosen = cli_checks.check_model(engines.store, args.model, "stt", "--model")
        cli_checks.check_model_language(chosen, language, "--model")
    try:
        started = time.perf_counter()
        audio = read_audio(args.file)
        decode_ms = 1000 * (time.perf_counter() - started)
        transcript = transcribe_recording(engines, audio, language, args.model, progress=sys.stderr.isatty())
        text = transcript.text if transcript else ""
        detected = transcript.language if transcript else (language or "")
        timings = {"decode": round(decode_ms, 1), **({k: round(v, 1) for k, v in transcript.timings_ms.items()} if transcript else {})}
        if args.json:
            print(json.dumps({"text": text, "language": detected, "timings_ms": timings}, ensure_ascii=False))
        elif text:
            print(text)
        else:
            print("(no speech found)", file=sys.stderr)
        return 0
    finally:
        engines.close()


def _say(args: argparse.Namespace) -> int:
    import numpy as np

    from assistant.audio_files import write_wav
    from assistant.playback.play_blocking import play_blocking

    from assistant.speak.text.script_language import language_of_script

    engines = _engines(() if args.voice else ("tts",))
    if args.voice:
        if ":" not in args.voice:  # a model id: said wrong, the message lists the voices there are
            cli_checks.check_model(engines.store, args.voice, "tts", "--voice")
        voice = engines.voice_named(args.voice)
    else:  # text in a script of its own (Hangul, Chinese, ...) is read as a conversation reads that language
        voice = engines.voice_for(language_of_script(args.text) or heard_language(engines.settings.conversation.language))
    chunks = list(voice.synthesize(args.text))
    if not chunks:
        print("parley: nothing to say: the text has no speakable words (only emoji, markup or symbols)", file=sys.stderr)
        return 1
    audio, rate = np.concatenate([c.audio for c in chunks]), chunks[0].sample_rate
    if args.output:
        write_wav(args.output, audio, rate)
        print(f"Wrote {args.output} ({len(audio) / rate:.1f} s, {rate} Hz)")
    else:
        play_blocking(audio, rate, engines.settings.audio.output_device)
    return 0


def _ask(args: argparse.Namespace) -> int:
    from assistant.conversation.answer import answer
    from assistant.runtime.settings import load_settings

    settings = load_settings()
    engine = "server" if args.server else (args.engine or settings.chat.engine)
    chat = dataclasses.replace(settings.chat, engine=engine, server_url=args.server or settings.chat.server_url)
    models = settings.models
    if args.model and engine == "server":
        chat = dataclasses.replace(chat, server_model=args.model)
    elif args.model:
        from assistant.models.store import ModelStore

        cli_checks.check_model(ModelStore(), args.model, "llm", "--model")
        models = dataclasses.replace(models, llm=args.model)
    if engine == "server" and not chat.server_url:
        raise cli_checks.BadInput("--engine server needs a server: give --server URL (e.g. http://localhost:11434/v1 "
                                  "for Ollama) or set [chat] server_url in the settings")
    settings = dataclasses.replace(settings, chat=chat, models=models)
    engines = _engines(("llm", "tts") if args.speak else ("llm",), settings)
    toolbox = engines.toolbox
    before = {t.id for t in toolbox.timers.running()} if toolbox is not None else set()
    if toolbox is not None:
        toolbox.confirm = _confirm_in_terminal
        toolbox.wait_for_servers()
    try:
        parts = []
        from assistant.speak.text.script_language import language_of_script

        language = heard_language(engines.settings.conversation.language) or language_of_script(args.text)
        for delta in answer(engines.chat, toolbox, args.text, None, language):
            parts.append(delta)
            print(delta, end="", flush=True)
        print()
        reply = "".join(parts).strip()
        engines.chat.record_reply(reply)
        if args.speak and reply:
            _play(engines, engines.voice_for(language), reply)
        if toolbox is not None:
            _wait_for_timers(engines, toolbox, {t.id for t in toolbox.timers.running()} - before, args.speak)
        return 0
    finally:
        engines.close()


def _confirm_in_terminal(question: str) -> bool:
    """Ask before a tool changes something outside Parley: yes only when a person at a terminal says so."""
    if not sys.stdin.isatty():
        print(f"parley: not done without a yes: {question} (run it in a terminal to answer, or set the server's "
              "allow = \"always\" in mcp_servers.toml)", file=sys.stderr)
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _play(engines, voice, text: str) -> None:
    import numpy as np

    from assistant.playback.play_blocking import play_blocking

    chunks = list(voice.synthesize(text))
    if chunks:
        play_blocking(np.concatenate([c.audio for c in chunks]), chunks[0].sample_rate,
                      engines.settings.audio.output_device)


def _wait_for_timers(engines, toolbox, ids: set[str], speak: bool) -> None:
    """Stay until the timers `ids` (set by this command) ring; Ctrl+C leaves them to the next Parley that runs."""
    import threading

    from assistant.playback.alarm_sound import alarm_sound
    from assistant.playback.play_blocking import play_blocking
    from assistant.runtime.audio_stream import AudioDeviceError

    if not ids:
        return
    left, ringing = set(ids), set()
    all_rung = threading.Event()

    def ring(timer) -> None:
        ringing.add(timer.id)
        print(f"⏰ {timer.ringing_words()}", flush=True)
        try:
            play_blocking(alarm_sound(24000), 24000, engines.settings.audio.output_device)
            if speak:
                _play(engines, engines.voice_for(timer.language), timer.ringing_words())
        except AudioDeviceError as exc:
            print(f"parley: {exc}", file=sys.stderr)
        left.discard(timer.id)
        if not left:
            all_rung.set()

    book = toolbox.timers
    book.rings = lambda timer: timer.id in ids
    book.on_ring = ring
    print("Waiting for it to ring (Ctrl+C leaves it to Parley's app)…", flush=True)
    book.start()
    gone_since = None
    while not all_rung.wait(0.2):  # (short waits: Ctrl+C is handled on the main thread between them)
        if (left - ringing) & {t.id for t in book.running()} or not left - ringing:
            continue
        # Off the list and not rung here: rung by the running app, or cancelled (this process takes a timer off the
        # list a moment before it rings it: a grace for that).
        gone_since = gone_since or time.monotonic()
        if time.monotonic() - gone_since > 1:
            print("(rung or cancelled by the running Parley)", flush=True)
            return


def _reply(args: argparse.Namespace) -> int:
    from assistant.audio_files import read_audio, write_wav
    from assistant.conversation.one_turn import reply_to_audio
    from assistant.runtime.settings import load_settings

    engines = _engines(("vad", "stt", "llm", "tts"), cli_checks.with_language(load_settings(), args.language))
    audio = read_audio(args.input)
    try:
        engines.preload(heard_language(engines.settings.conversation.language))
        result = reply_to_audio(engines, audio)
    finally:
        engines.close()
    write_wav(args.output, result.audio, result.sample_rate)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps({"transcript": result.transcript, "language": result.language, "reply": result.reply,
                          "timings_ms": result.timings_ms}, ensure_ascii=False))
    else:
        print(f"You said: {result.transcript}")
        print(f"Parley:   {result.reply}")
        t = result.timings_ms
        print(f"Timings:  speech→text {t['stt']:.0f} ms, first word {t.get('llm_first_token', 0):.0f} ms, "
              f"first sound {t.get('first_audio', 0):.0f} ms, total {t['total']:.0f} ms")
        print(f"Wrote {args.output}")
    return 0
