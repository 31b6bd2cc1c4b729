"""Parley's engine: capture → voice activity → transcribe → chat → speak → playback. Never imports Qt."""

from assistant.runtime.blas import preload_optimized_blas

# Before anything imports mlx: see blas.py for why this must come first.
preload_optimized_blas()

__version__ = "0.1.0"
