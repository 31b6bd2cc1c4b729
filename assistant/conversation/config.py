"""How the live conversation behaves, from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.listen.end_of_turn import EndOfTurnConfig
from assistant.listen.endpointing import EndpointConfig
from assistant.listen.wake_gate import WakeConfig
from assistant.runtime.audio_stream import AudioConfig
from assistant.runtime.settings import Settings


@dataclass(frozen=True)
class ConversationConfig:
    """How the live conversation behaves."""

    hands_free: bool = True  # False = push-to-talk only
    wake: WakeConfig | None = None  # hands-free answers only turns with the wake word (or in the follow-up window)
    echo_cancellation: bool = True  # off for headphones
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)  # its end of silence and pauses: end_of_turn's
    end_of_turn: EndOfTurnConfig = field(default_factory=EndOfTurnConfig)
    # The voice starts on the reply's first clause ("Sure, ...") rather than its whole first sentence.
    first_clause: bool = True
    # The reply starts at the first pause, held back until the turn ends there (see machine.py).
    speculative_start: bool = True
    audio: AudioConfig = field(default_factory=AudioConfig)


def conversation_config(settings: Settings, hands_free: bool, echo_cancellation: bool,
                        policy: str = "default") -> ConversationConfig:
    """The live conversation as the settings describe it (`echo_cancellation` False overrides them). `policy`
    "fixed" is the turn-taking before Smart Turn, for comparisons: the fixed silence, a whole first sentence."""
    listening = settings.listening
    wake = None
    if settings.conversation.mode == "wake_word":
        wake = WakeConfig(listening.wake_word, listening.wake_sensitivity, float(listening.follow_up_s))
    return ConversationConfig(
        hands_free=hands_free,
        wake=wake,
        echo_cancellation=settings.audio.echo_cancellation and echo_cancellation,
        endpoint=EndpointConfig(start_threshold=listening.vad_threshold,
                                stop_threshold=max(0.05, listening.vad_threshold - 0.15),
                                max_utterance_s=float(listening.max_utterance_s)),
        end_of_turn=EndOfTurnConfig(mode="fixed" if policy == "fixed" else listening.end_of_turn,
                                    fixed_silence_ms=listening.end_of_turn_silence_ms, patience_ms=listening.patience_ms),
        first_clause=policy != "fixed",
        speculative_start=policy != "fixed",
        audio=AudioConfig(input_device=settings.audio.input_device, output_device=settings.audio.output_device),
    )
