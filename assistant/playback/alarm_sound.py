"""The sound of a timer or alarm ending: three bright double beeps (~1.3 s), louder than the wake chime and unlike
any voice, so it is heard across a room and over a reply."""

from __future__ import annotations

import numpy as np


def alarm_sound(rate: int, repeats: int = 3) -> np.ndarray:
    t = np.arange(int(0.08 * rate)) / rate
    envelope = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.005)  # 5 ms in and out: no click
    beep = 0.3 * envelope * (np.sin(2 * np.pi * 1760.0 * t) + 0.3 * np.sin(2 * np.pi * 2640.0 * t)) / 1.3
    gap, pause = np.zeros(int(0.06 * rate)), np.zeros(int(0.3 * rate))
    return np.concatenate([np.concatenate([beep, gap, beep, pause]) for _ in range(repeats)]).astype(np.float32)
