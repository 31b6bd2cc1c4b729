"""Whisper-style log-mel features in numpy, for the end-of-turn model (Smart Turn was trained on them).

Written here rather than taken from `transformers` (its WhisperFeatureExtractor gives the same numbers, checked
in tests/test_log_mel.py): importing transformers costs seconds and hundreds of MB at start-up for one
spectrogram, and mlx-whisper's own version needs the MLX thread, which is busy transcribing at the moment the
end-of-turn decision is due.

The recipe is Whisper's: a centred (reflect-padded) STFT with a periodic Hann window of 400 samples every 160
samples at 16 kHz, power spectrum, 80 Slaney mel bands from 0 to 8 kHz, log10 floored at 1e-10, then clipped to
8 (80 dB) below the loudest value and mapped by (x + 4) / 4.
"""

from __future__ import annotations

import functools

import numpy as np

RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, np.float64)
    linear = hz * 3.0 / 200.0
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) * 27.0 / np.log(6.4)
    return np.where(hz >= 1000.0, log_part, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, np.float64)
    linear = mel * 200.0 / 3.0
    log_part = 1000.0 * np.exp((mel - 15.0) * np.log(6.4) / 27.0)
    return np.where(mel >= 15.0, log_part, linear)


@functools.lru_cache(maxsize=2)
def mel_filters(n_mels: int = N_MELS, n_fft: int = N_FFT, rate: int = RATE) -> np.ndarray:
    """Triangular Slaney-normalised mel filters, (n_fft // 2 + 1, n_mels): each band's area is 1 in Hz."""
    bins = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(rate / 2), n_mels + 2))
    widths = np.diff(edges)
    slopes = edges[None, :] - bins[:, None]  # (bins, n_mels + 2)
    rising = -slopes[:, :-2] / widths[:-1]
    falling = slopes[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(rising, falling))
    filters *= 2.0 / (edges[2:] - edges[:-2])  # Slaney: equal area per band
    filters.setflags(write=False)
    return filters


@functools.lru_cache(maxsize=2)
def _window(n_fft: int) -> np.ndarray:
    window = np.hanning(n_fft + 1)[:-1]  # periodic, as torch.hann_window
    window.setflags(write=False)
    return window


def log_mel(audio: np.ndarray, frames: int, normalize: bool = True) -> np.ndarray:
    """(N_MELS, frames) float32 features of 16 kHz mono `audio`, which must hold frames * HOP samples.

    `normalize`: scale the waveform to zero mean and unit variance first (Smart Turn's training did)."""
    if audio.ndim != 1 or len(audio) != frames * HOP:
        raise ValueError(f"log_mel takes {frames * HOP} mono samples for {frames} frames, got shape {audio.shape}")
    x = audio.astype(np.float32, copy=False)
    if normalize:
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    padded = np.pad(x.astype(np.float64), N_FFT // 2, mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:frames]  # the STFT's last frame dropped
    power = np.abs(np.fft.rfft(windows * _window(N_FFT), axis=-1)) ** 2  # (frames, bins)
    mel = np.log10(np.maximum(power @ mel_filters(), 1e-10))
    mel = np.maximum(mel, mel.max() - 8.0)
    return ((mel + 4.0) / 4.0).T.astype(np.float32)
