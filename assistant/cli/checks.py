"""Checks of what the user asked `parley` for, made before any model loads.

The argparse `type=` functions here turn a bad value into argparse's own error (exit status 2); the
checks against the model store raise BadInput, which `parley` reports the same way. Either way the
message says what is wrong and what to do, on one line.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

KIND_NAMES = {"stt": "speech-to-text", "llm": "chat", "tts": "voice", "vad": "voice activity", "turn": "end-of-turn", "wake": "wake-word"}


class BadInput(Exception):
    """The command line or settings.toml asks for something that can't be; `parley` exits with status 2."""


# --- argparse type= functions: they run while the command line is parsed ---------------------------


def language(text: str) -> str:
    """--language: `auto`, a code Whisper knows (en, ko, zh, …) or its English name (german); the code."""
    from assistant.transcribe.whisper_languages import language_code, whisper_languages

    if text.strip().lower() == "auto":
        return "auto"
    code = language_code(text)
    if code is not None:
        return code
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a language Whisper knows; use auto (detect) or one of: "
        f"{', '.join(sorted(whisper_languages()))}"
    )


def with_language(settings, language: str | None):
    """`settings` with the conversation's language set to `language` (a --language option's), or unchanged."""
    import dataclasses

    if not language:
        return settings
    return dataclasses.replace(settings, conversation=dataclasses.replace(settings.conversation, language=language))


def whole_number(low: int, high: int, why: str) -> Callable[[str], int]:
    """A `type=` for a count from `low` to `high`; `why` explains the bounds to the user."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; use {low} to {high}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range; use {low} to {high} ({why})")
        return value

    return parse


def server_url(text: str) -> str:
    """--server: an http:// or https:// address of an OpenAI-compatible server."""
    from assistant.runtime.settings import is_web_address

    if not is_web_address(text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a server address; write it like http://localhost:11434/v1 "
                                         "(http:// or https://, the host and port, then the path)")
    return text.strip()


def input_file(text: str) -> Path:
    """An existing, readable file (an audio file to decode)."""
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file; check the path")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: not a file (a folder?); give the path of an audio file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text}: not readable (permission denied); check its permissions")
    return path


def existing_path(text: str) -> Path:
    """A file or folder that exists (what `models import` reads)."""
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file or folder; check the path")
    return path


def output_file(text: str) -> Path:
    """A file to write: its folder must exist already, and the path must not be a folder.

    Checked before any model loads, so a typo in the folder doesn't cost a whole synthesis first.
    """
    path = Path(text).expanduser()
    folder = path.parent
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name such as {path / 'out.wav'}")
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise argparse.ArgumentTypeError(f"{text}: the folder {folder} {what}; create it first or write elsewhere")
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text}: the folder {folder} is not writable; write elsewhere")
    return path


def text_for(command: str, example: str) -> Callable[[str], str]:
    """A `type=` for the text of `say`/`ask`: refuses an empty or blank one, showing an example."""

    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"the text is empty; give some, e.g. parley {command} {example!r}")
        return text

    return parse


def model_id(text: str) -> str:
    """A model id as the store can name a folder (the store's own rule), so it never reaches outside it."""
    if not text.strip() or text.startswith(".") or "/" in text or "\\" in text:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a model id; ids use letters, digits, '.', '-' and '_' (`parley models list` shows them)"
        )
    return text


# --- checks against the model store and catalog: after parsing, before loading ----------------------


def check_model(store, model_id: str, kind: str, subject: str):
    """The installed model or catalog entry `model_id` when it is a `kind` model; else BadInput.

    `subject` names where the id came from ("--voice", or settings.toml's key) for the message. A catalog
    model that is not installed yet passes: loading it then says how to install it (exit status 1).
    """
    from assistant.models.catalog import load_catalog

    found = store.get(model_id) or load_catalog().get(model_id)
    if found is None:
        raise BadInput(f"{subject}: there is no model {model_id!r}; {_choices(store, kind)}")
    if found.kind != kind:
        raise BadInput(f"{subject}: {model_id} is a {KIND_NAMES[found.kind]} model, not a {KIND_NAMES[kind]} model; "
                       f"{_choices(store, kind)}")
    return found


def _choices(store, kind: str) -> str:
    """What to use instead: the installed models of `kind`, and where to see the rest."""
    ids = [m.id for m in store.installed() if m.kind == kind]
    have = f"installed {KIND_NAMES[kind]} models: {', '.join(ids)}; " if ids else ""
    return f"{have}`parley models list` shows all (KIND {kind})"


def check_settings_models(settings, store, kinds: tuple[str, ...]) -> None:
    """BadInput when settings.toml names, for a job in `kinds`, a model that doesn't exist or does another job."""
    from assistant.runtime.settings import settings_path

    for kind in kinds:
        check_model(store, getattr(settings.models, kind), kind, f"{settings_path()}: models.{kind}")


def check_model_language(model, language: str | None, subject: str) -> None:
    """BadInput when the speech model the user picked can't do the language the user asked for."""
    if language and language != "auto" and not model.speaks(language):
        raise BadInput(f"{subject}: {model.id} only understands {', '.join(model.languages)}, not {language!r}; "
                       "leave out --model to pick one that does, or use a multilingual one such as whisper-base")
