"""Which models the settings window offers, and what it says about them for a language.

Plain logic over the model store and the catalog (no widgets), so the advice is testable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assistant.chat import LANGUAGE_NAMES
from assistant.conversation.engines import choose_stt
from assistant.models.catalog import CatalogEntry
from assistant.models.errors import ModelError
from assistant.models.store import InstalledModel, ModelStore

KIND_NAMES = {"stt": "speech model", "llm": "chat model", "tts": "voice", "vad": "voice activity model",
              "turn": "end-of-turn model", "wake": "wake-word model"}


def language_name(code: str) -> str:
    return "Auto (detect)" if code == "auto" else LANGUAGE_NAMES.get(code, code)


class ModelChoices:
    """The installed models and the catalog, read together: names, languages, what can be downloaded."""

    def __init__(self, store: ModelStore, catalog: dict[str, CatalogEntry]) -> None:
        self.store = store
        self.catalog = catalog
        self._order = {model_id: index for index, model_id in enumerate(catalog)}

    def installed(self, kind: str) -> list[InstalledModel]:
        """Installed models of `kind`, in catalog order, then the user's own by id."""
        models = [m for m in self.store.installed() if m.kind == kind]
        return sorted(models, key=lambda m: (self._order.get(m.id, len(self._order)), m.id))

    def downloadable(self, kind: str) -> list[CatalogEntry]:
        """Catalog models of `kind` that are not installed, in catalog order."""
        installed = {m.id for m in self.store.installed()}
        return [e for e in self.catalog.values() if e.kind == kind and e.id not in installed]

    def store_folder(self) -> str:
        """The model store's folder, with the home folder written as ~."""
        try:
            return "~/" + self.store.root.relative_to(Path.home()).as_posix()
        except ValueError:
            return str(self.store.root)

    def is_installed(self, model_id: str) -> bool:
        return self.store.get(model_id) is not None

    def name(self, model_id: str) -> str:
        """The catalog's name ("Whisper base (multilingual)"), else the id with the languages it speaks."""
        if model_id in self.catalog:
            return self.catalog[model_id].name
        languages = self.languages(model_id)
        return f"{model_id} ({describe_languages(languages)})" if languages else model_id

    def languages(self, model_id: str) -> tuple[str, ...]:
        installed = self.store.get(model_id)
        if installed:
            return installed.languages
        entry = self.catalog.get(model_id)
        return entry.languages if entry else ()

    def speaks(self, model_id: str, language: str) -> bool:
        languages = self.languages(model_id)
        return "multi" in languages or language in languages

    def mandarin_kokoro(self) -> InstalledModel | None:
        """The installed Kokoro voice that reads Mandarin (its styles are the Chinese voices offered), or None."""
        return next((m for m in self.installed("tts") if m.format == "kokoro" and "zh" in m.languages), None)


def describe_languages(languages: tuple[str, ...]) -> str:
    if "multi" in languages:
        return "many languages"
    names = [LANGUAGE_NAMES.get(code, code) for code in languages]
    if len(names) <= 1:
        return "".join(names) or "no language listed"
    return ", ".join(names[:-1]) + " and " + names[-1]


def voice_for_language(choices: ModelChoices, language: str, current: str) -> str:
    """The voice to select when the user picks `language`: the current one if it speaks it (or for
    auto), else the first installed voice that does, else the current one (the advice offers a download)."""
    if language == "auto" or choices.speaks(current, language):
        return current
    return next((m.id for m in choices.installed("tts") if m.speaks(language)), current)


@dataclass(frozen=True)
class Advice:
    """One line under the language menu, maybe with a button that fixes what it warns about."""

    text: str
    warning: bool = False
    action: str = ""  # "use" (select an installed model) or "download" (a catalog model); "" = none
    model_id: str = ""  # the model the action selects or downloads
    kind: str = ""  # its kind: which model menu it goes into


def language_advice(choices: ModelChoices, language: str, stt: str, llm: str, tts: str) -> list[Advice]:
    """What the chosen speech model, chat model and voice mean for `language` ("auto" = detect)."""
    advice = [_voice_advice(choices, language, tts), _stt_advice(choices, language, stt)]
    if language != "auto":
        advice.append(_llm_advice(choices, language, llm))
    return [a for a in advice if a]


def _voice_advice(choices: ModelChoices, language: str, tts: str) -> Advice:
    from assistant.speak.system_voice import system_voice_for

    voice = choices.name(tts)
    if language == "auto":
        return Advice(f"Replies are read by {voice}; replies in a language it doesn't speak, by a voice that does "
                      "(the system's, where no voice of Parley's does).")
    if choices.speaks(tts, language):
        return Advice(f"Replies will be read by {voice}.")
    wanted = language_name(language)
    other = voice_for_language(choices, language, tts)
    if other != tts:
        return Advice(f"{voice} doesn't speak {wanted}.", True, "use", other, "tts")
    offer = next((e for e in choices.downloadable("tts") if e.speaks(language)), None)
    system = system_voice_for(language)
    if system is not None:
        text = f"No voice of Parley's speaks {wanted}; replies will be read by the system's voice, {system.name}."
        if offer:
            return Advice(f"{text} {offer.name} speaks {wanted}.", True, "download", offer.id, "tts")
        # (espeak-ng's formant voices are hard to understand in some languages: the README's table says which)
        return Advice(text, system.engine == "espeak-ng")
    if offer:
        return Advice(f"No installed voice speaks {wanted}, so replies would be read by {voice}. "
                      f"{offer.name} speaks {wanted}.", True, "download", offer.id, "tts")
    return Advice(f"No voice speaks {wanted} yet; replies will be read by {voice}.", True)


def _stt_advice(choices: ModelChoices, language: str, stt: str) -> Advice | None:
    wanted = None if language == "auto" else language
    fits = choices.speaks(stt, wanted) if wanted else "multi" in choices.languages(stt)
    if fits or not choices.languages(stt):
        return None
    model = choices.name(stt)
    understood = f"{model} understands only {describe_languages(choices.languages(stt))}"
    try:
        other = choose_stt(choices.store, stt, wanted)
    except ModelError:
        other = None
    if other is not None and other.id != stt and (other.speaks(wanted) if wanted else "multi" in other.languages):
        purpose = f"to understand {language_name(language)}" if wanted else "to detect the language you speak"
        return Advice(f"{understood}, so Parley will use {choices.name(other.id)} {purpose}.",
                      True, "use", other.id, "stt")
    offer = next((e for e in choices.downloadable("stt") if (e.speaks(wanted) if wanted else "multi" in e.languages)),
                 None)
    need = f"understands {language_name(language)}" if wanted else "can detect the language you speak"
    text = f"{understood}, and no installed speech model {need}."
    return Advice(text, True, "download", offer.id, "stt") if offer else Advice(text, True)


def _llm_advice(choices: ModelChoices, language: str, llm: str) -> Advice | None:
    if choices.speaks(llm, language) or not choices.languages(llm):
        return None
    wanted = language_name(language)
    text = f"{choices.name(llm)} is trained mostly on {describe_languages(choices.languages(llm))}; its {wanted} may be poor."
    other = next((m for m in choices.installed("llm") if m.speaks(language)), None)
    if other:
        return Advice(text, True, "use", other.id, "llm")
    offer = next((e for e in choices.downloadable("llm") if e.speaks(language)), None)
    return Advice(text, True, "download", offer.id, "llm") if offer else Advice(text, True)
