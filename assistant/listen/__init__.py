"""Listening: what the microphone's audio says about the turn (for now: whether the user has finished)."""
