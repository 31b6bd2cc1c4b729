"""The `parley` command's subcommands (also `python -m assistant`). `parley` on its own starts the desktop app: its
console script is ui/launcher.py, which hands the app to `run` as what to do when no command is given, so that
nothing here imports ui/ (or Qt)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from assistant.cli import checks as cli_checks
from assistant.cli.checks import BadInput
from assistant.runtime.logs import setup_logging

log = logging.getLogger("parley")

# A trial takes about 10 s: a thousand is a night's run; beyond that a typo, not a plan.
MAX_TRIALS = 1000
TRIALS_WHY = "odd trials play out, even ones are interrupted; each takes about 10 s"


def run(no_command: Callable[[], int] | None = None) -> None:
    """The process entry point (`python -m assistant`, and `parley` through ui/launcher.py): `main()`, and the
    process ends within shutdown.QUIT_WITHIN_S of Ctrl+C, SIGTERM or the command's end, whatever a thread is stuck
    in. `no_command`: what runs when no command is given (the app), returning the exit code."""
    from assistant.runtime import shutdown

    shutdown.install_signal_handlers()
    shutdown.exit_within(main(no_command=no_command))


def main(argv: list[str] | None = None, no_command: Callable[[], int] | None = None) -> int:
    """Run a `parley` subcommand, or `no_command()` when none is given; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        if no_command is None:
            parser.error("no command given; the desktop app starts with `parley` on its own, or `python -m ui`")
        args.handler = lambda args: no_command()
    setup_logging(verbose=args.verbose)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("\nStopped.", file=sys.stderr)
        return 130
    except Exception as exc:
        from assistant.audio_files import AudioFileError
        from assistant.models.errors import ModelError
        from assistant.runtime.audio_stream import AudioDeviceError
        from assistant.runtime.settings import SettingsError
        from assistant.conversation.one_turn import NoSpeech

        if isinstance(exc, (BadInput, SettingsError)):  # what the user asked for can't be: exit 2, as argparse
            log.error("%s", exc)
            print(f"parley: {exc}", file=sys.stderr)
            return 2
        if isinstance(exc, (ModelError, AudioFileError, AudioDeviceError, NoSpeech)):
            log.error("%s", exc)
            print(f"parley: {exc}", file=sys.stderr)
            return 1
        log.exception("unexpected error")
        print(f"parley: unexpected error: {type(exc).__name__}: {exc} (details in the log file)", file=sys.stderr)
        return 1
    finally:
        _release_mlx_streams()


def _release_mlx_streams() -> None:
    """MLX's own exit-time clean-up runs too late and can abort the process: do it now."""
    if "mlx.core" in sys.modules:
        sys.modules["mlx.core"].clear_streams()


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line: the command, what is wrong, and (for a command line that
    doesn't fit the usage) where the usage is; still exit status 2. Subcommands inherit it."""

    def error(self, message: str):
        hint = "" if message.startswith("argument ") else f" (`{self.prog} --help` shows the usage)"
        self.exit(2, f"{self.prog}: {message}{hint}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="parley", description="Parley, a private voice assistant. "
                     "On its own, `parley` starts the menu-bar app.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to the console too")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    doctor = commands.add_parser("doctor", help="check the installation, devices, permissions and models")
    doctor.set_defaults(handler=_doctor)

    models = commands.add_parser("models", help="list, install, import and remove models")
    model_commands = models.add_subparsers(title="models commands", metavar="ACTION", required=True)
    listing = model_commands.add_parser("list", help="installed and available models")
    listing.set_defaults(handler=_models_list)
    setup = model_commands.add_parser("setup", help="install the default pack (offline packs; skips what is installed)")
    setup.set_defaults(handler=_models_setup)
    pull = model_commands.add_parser("pull", help="download a catalog model")
    pull.add_argument("model_id", metavar="ID", type=cli_checks.model_id)
    pull.add_argument("--from", dest="source", choices=("hub", "pack"), default=None,
                      help="hub = Hugging Face (default when the model is there), pack = its offline pack")
    pull.set_defaults(handler=_models_pull)
    imp = model_commands.add_parser(
        "import", help="import a faster-whisper folder, a .gguf file (or Ollama blob), an MLX folder or a Piper .onnx voice")
    imp.add_argument("path", type=cli_checks.existing_path)
    imp.add_argument("--id", dest="model_id", type=cli_checks.model_id, help="store id (default: from the file name)")
    imp.set_defaults(handler=_models_import)
    remove = model_commands.add_parser("remove", help="delete an installed model")
    remove.add_argument("model_id", metavar="ID", type=cli_checks.model_id)
    remove.set_defaults(handler=_models_remove)

    bench = commands.add_parser("bench", help="measure Parley on this machine (from a source checkout)")
    bench_commands = bench.add_subparsers(title="benchmarks", metavar="BENCHMARK", required=True)
    realtime = bench_commands.add_parser(
        "realtime", help="live response and barge-in latency through virtual audio devices, with an echo path")
    realtime.add_argument("--trials", type=cli_checks.whole_number(2, MAX_TRIALS, TRIALS_WHY), default=20,
                          help=f"spoken questions to ask, 2 to {MAX_TRIALS} (default 20)")
    realtime.add_argument("--json", action="store_true", help="print only the result, as one JSON object")
    realtime.add_argument("--no-echo-path", dest="echo_path", action="store_false",
                          help="the speaker does not echo into the microphone (as with headphones)")
    realtime.set_defaults(handler=_bench_realtime)
    chat = bench_commands.add_parser(
        "chat", help="the chat engine's first token, follow-up first token and tokens/s, against bare llama.cpp")
    chat.add_argument("--json", action="store_true", help="print only the result, as one JSON object")
    chat.set_defaults(handler=_bench_chat)
    tools = bench_commands.add_parser(
        "tools", help="requests in English, Korean and Chinese: the tool each got, and how fast it was said")
    tools.add_argument("models", nargs="*", metavar="MODEL_ID",
                       help="chat models to run it on (default: the setting's, and qwen2.5-coder-1.5b-instruct if "
                            "installed)")
    tools.add_argument("--json", action="store_true", help="print only the results, one JSON object per model")
    tools.set_defaults(handler=_bench_tools)
    serve = bench_commands.add_parser(
        "serve", help="parley serve under 1, 4 and 16 clients, and the conversation's response beside it")
    serve.add_argument("--json", action="store_true", help="print only the result, as one JSON object")
    serve.set_defaults(handler=_bench_serve)

    from assistant.cli.speech_commands import add_speech_commands

    add_speech_commands(commands)
    from assistant.cli.chat import add_chat_command

    add_chat_command(commands)
    from assistant.cli.serve_command import add_serve_command

    add_serve_command(commands)
    return parser


def _doctor(args) -> int:
    from assistant.cli.doctor import print_report

    return print_report()


def _benchmarks_of_the_checkout(name: str, why: str) -> bool:
    """Put the source checkout's benchmarks/ on the path; False (and says why) when Parley runs from elsewhere."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / f"{name}.py").is_file() or not (root / "tests" / "rig").is_dir():
        print(f"parley bench {name} runs from Parley's source checkout ({why}): run it there", file=sys.stderr)
        return False
    sys.path.insert(0, str(root))
    return True


def _bench_chat(args) -> int:
    if not _benchmarks_of_the_checkout("chat", "its benchmarks live beside the tests"):
        return 2
    from benchmarks import chat

    chat.main(as_json=args.json)
    return 0


def _bench_tools(args) -> int:
    if not _benchmarks_of_the_checkout("tools", "its request set lives beside the tests"):
        return 2
    from benchmarks import tools

    tools.main(args.models, as_json=args.json)
    return 0


def _bench_serve(args) -> int:
    if not _benchmarks_of_the_checkout("serve", "it is measured from the source checkout"):
        return 2
    from benchmarks import serve

    serve.main(as_json=args.json)
    return 0


def _bench_realtime(args) -> int:
    """Runs benchmarks/realtime.py of the source checkout: it needs the virtual audio rig of the tests."""
    import json

    if not _benchmarks_of_the_checkout("realtime", "it drives virtual audio devices from its tests"):
        return 2
    from benchmarks import realtime

    result = realtime.main(args.trials, progress=not args.json, echo_path=args.echo_path)
    if not args.json:
        print(f"response: p50 {result['response_ms']['p50']} ms, p95 {result['response_ms']['p95']} ms; "
              f"barge-in: p50 {result['barge_in_ms']['p50']} ms, p95 {result['barge_in_ms']['p95']} ms "
              f"(heard: p50 {result['barge_in_heard_ms']['p50']} ms, p95 {result['barge_in_heard_ms']['p95']} ms); "
              f"self-interruptions: {result['self_interruptions']}, missed barge-ins: {result['missed_barge_ins']}, "
              f"questions not answered: {result['lost_turns']} in {result['trials']} trials; with the fixed "
              f"policy: response p50 {result['baseline_response_ms']['p50']} ms; floor p50 {result['floor_ms']['p50']} "
              f"ms; questions with a pause cut off: {result['false_cutoffs']} of {result['pausing_questions']} "
              f"({result['baseline_false_cutoffs']} with the fixed policy)")
    print(json.dumps(result))
    return 0


def _models_list(args) -> int:
    from assistant.models.catalog import load_catalog
    from assistant.models.store import ModelStore

    store = ModelStore()
    catalog = load_catalog()
    installed = {m.id: m for m in store.installed()}
    print(f"Model store: {store.root}")
    print(f"{'ID':32} {'KIND':4} {'STATUS':10} {'SIZE':>8}  LANGUAGES")
    for model in installed.values():
        print(f"{model.id:32} {model.kind:4} {'installed':10} {model.size_bytes / 1e6:6.0f} MB  {_languages(model.languages)}")
    for entry in catalog.values():
        if entry.id not in installed:
            status = "default" if entry.default else "available"
            print(f"{entry.id:32} {entry.kind:4} {status:10} {entry.size_mb:6.0f} MB  {_languages(entry.languages)}")
    return 0


def _languages(languages) -> str:
    return "multilingual" if "multi" in languages else ", ".join(languages)


def _models_setup(args) -> int:
    from assistant.models.catalog import load_catalog
    from assistant.models.install import setup_default_pack
    from assistant.models.store import ModelStore

    store = ModelStore()
    installed = setup_default_pack(store, load_catalog())
    print(f"Default pack ready in {store.root}: {', '.join(m.id for m in installed)}")
    return 0


def _models_pull(args) -> int:
    from assistant.models.catalog import load_catalog
    from assistant.models.install import install_from_hub, install_from_pack
    from assistant.models.store import ModelStore

    catalog = load_catalog()
    entry = catalog.get(args.model_id)
    if entry is None:
        raise BadInput(f"{args.model_id} is not in the catalog; `parley models list` shows the ids, "
                       "and `parley models import PATH` takes a model you already have")
    source = args.source or ("hub" if entry.hub else "pack")
    if getattr(entry, source) is None:  # asked for a source this model doesn't have
        other = "pack" if source == "hub" else "hub"
        raise BadInput(f"{entry.id} has no {'offline pack' if source == 'pack' else 'Hugging Face hub'} source; "
                       f"use --from {other}, or leave --from out")
    store = ModelStore()
    installed = install_from_hub(store, entry) if source == "hub" else install_from_pack(store, entry)
    print(f"Installed {installed.id} ({installed.format}, {installed.size_bytes / 1e6:.0f} MB) in {installed.path}")
    return 0


def _models_import(args) -> int:
    from assistant.models.install import import_path
    from assistant.models.store import ModelStore

    installed = import_path(ModelStore(), args.path, args.model_id)
    print(f"Imported {args.path} as {installed.id} ({installed.kind}, {installed.format}, "
          f"{_languages(installed.languages)}, {installed.size_bytes / 1e6:.0f} MB)")
    return 0


def _models_remove(args) -> int:
    from assistant.models.errors import ModelError
    from assistant.models.store import ModelStore

    try:
        ModelStore().remove(args.model_id)
    except ModelError as exc:  # the store refuses only an id that isn't installed: the user's input
        raise BadInput(str(exc)) from exc
    print(f"Removed {args.model_id}")
    return 0
