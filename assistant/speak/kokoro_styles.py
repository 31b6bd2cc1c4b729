"""Which voice style a Kokoro voice reads each of its languages with, and whether that style has an accent there,
from what its importer wrote in the store (`details`: "styles", and "language_styles" {language: style})."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# Kokoro's style names begin with the letter of the language they were made for ("zf_xiaobei" Mandarin, "jm_kumo"
# Japanese, "af_heart" American English).
_STYLE_LANGUAGES = {"a": "en", "b": "en", "e": "es", "f": "fr", "h": "hi", "i": "it", "j": "ja", "p": "pt", "z": "zh"}


def style_language(style: str) -> str:
    """The language `style` was made for ("" when its name does not say)."""
    return _STYLE_LANGUAGES.get(style[:1], "")


def reading_language(model, language: str | None) -> str:
    """The language the voice reads for a reply in `language`: that one where it reads it, else its first."""
    return language if language in model.languages else model.languages[0]


def style_for(model, language: str | None, wanted: str = "") -> str:
    """The style `model` reads `language` with: `wanted` (a setting) when the voice has it, else its own for the
    language. (A voice installed before it read several languages kept one "style".)"""
    language = reading_language(model, language)
    details = model.details
    own = details.get("language_styles", {}).get(language) or details.get("style", "")
    if wanted and wanted != own:
        if wanted in details.get("styles", ()):
            return wanted
        log.warning("the voice %s has no style %r; it reads with its own, %s", model.id, wanted, own)
    return own


def accent(model, language: str) -> str:
    """The language whose accent `model` reads `language` with ("" when its style was made for that language)."""
    made_for = style_language(style_for(model, language))
    return "" if made_for in ("", language) else made_for
