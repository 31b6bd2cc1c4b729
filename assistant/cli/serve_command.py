"""`parley serve`: Parley's engines for other programs, over an OpenAI-shaped HTTP API and, with --wyoming, the
Wyoming protocol (Home Assistant). Ctrl+C or SIGTERM stops it."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from assistant.cli import checks as cli_checks

MAIN_THREAD_STEP_S = 0.2  # (the main thread waits in steps: a quit signal's handler runs between them)


def add_serve_command(commands) -> None:
    serve = commands.add_parser("serve", help="Parley's speech to text, voices and chat model for other programs "
                                              "(OpenAI-style HTTP API; --wyoming for Home Assistant)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this computer only; any other asks for a token)")
    serve.add_argument("--port", type=cli_checks.whole_number(0, 65535, "a TCP port"), default=8765,
                       help="the HTTP API's port (default 8765; 0: any free one)")
    serve.add_argument("--wyoming", action="store_true", help="also serve the Wyoming protocol (asr, tts, wake)")
    serve.add_argument("--wyoming-port", type=cli_checks.whole_number(0, 65535, "a TCP port"), default=10300,
                       help="the Wyoming server's port (default 10300)")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from assistant.api.api_server import ApiServers
    from assistant.cli.speech_commands import _engines
    from assistant.runtime.settings import heard_language, load_settings

    settings = load_settings()
    # (No conversation here: the chat model needs no second slot for the API's completions, as beside the app.)
    settings = dataclasses.replace(settings, api=dataclasses.replace(settings.api, enabled=False))
    engines = _engines(("vad", "stt", "llm", "tts") + (("wake",) if args.wyoming else ()), settings)
    servers = ApiServers(engines, args.host, args.port, args.wyoming_port if args.wyoming else None)
    try:
        print("Loading models…", file=sys.stderr, flush=True)
        engines.preload(heard_language(engines.settings.conversation.language))
        for line in servers.start():
            print(line, flush=True)
        print("Ctrl+C stops it.", file=sys.stderr, flush=True)
        while True:
            time.sleep(MAIN_THREAD_STEP_S)
    except KeyboardInterrupt:
        print("\nStopping…", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"parley serve: {exc} (--port, --wyoming-port)", file=sys.stderr)
        return 1
    finally:
        servers.stop()
        engines.close(timeout=0.3)
