"""Which engine runs the chat model: a decision of its own, from the setting, the model and the machine.

`auto` is MLX on an Apple GPU (Metal; the quantized model runs fastest there) and llama.cpp everywhere else
(MLX's CPU build is a reference path, about 7× slower on the same model). A model that only one engine can
read is run by that one.
"""

from __future__ import annotations

import platform
import sys

from assistant.models.errors import ModelError
from assistant.models.store import InstalledModel

def apple_gpu() -> bool:
    """True on Apple Silicon macOS, where MLX runs on the Metal GPU."""
    return sys.platform == "darwin" and platform.machine() == "arm64"


def local_engine(setting: str, model: InstalledModel, on_apple_gpu: bool | None = None) -> str:
    """The engine ("mlx" or "llama.cpp") that runs `model` on this machine for the `[chat] engine` setting.

    For "server" this is the engine that stands in when the server can't answer. Raises ModelError, saying
    what to do, when the setting asks for an engine that can't read the model.
    """
    gpu = apple_gpu() if on_apple_gpu is None else on_apple_gpu
    can_mlx, can_llama = model.has_mlx_weights, model.gguf_file is not None
    if setting == "mlx" and not can_mlx:
        raise ModelError(f"the chat model {model.id} has no MLX weights (it is stored as GGUF for llama.cpp); "
                         f"set [chat] engine to \"auto\" or \"llama.cpp\", or choose a model from the MLX hub")
    if setting == "llama.cpp" and not can_llama:
        raise ModelError(f"the chat model {model.id} has no GGUF file for llama.cpp (it came in MLX format); "
                         f"set [chat] engine to \"auto\" or \"mlx\", or import a .gguf with `parley models import`")
    if setting in ("mlx", "llama.cpp"):
        return setting
    if not (can_mlx or can_llama):
        raise ModelError(f"the chat model {model.id} has neither MLX weights nor a GGUF file; reinstall it with "
                         f"`parley models pull {model.id}`")
    if can_mlx and (gpu or not can_llama):
        return "mlx"
    return "llama.cpp"
