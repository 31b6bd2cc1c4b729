"""Make MLX's CPU build use an optimized BLAS, and tell which BLAS is in use.

MLX's Linux CPU wheel links a bundled reference (netlib) BLAS, which is about 30x slower than
OpenBLAS for the float32 matrix products Whisper and the chat model spend their time in. The
dynamic linker resolves `cblas_sgemm` through the global symbol scope before a library's own
dependencies, so loading OpenBLAS with RTLD_GLOBAL *before* `mlx` is imported makes MLX call it.
This runs from `assistant/__init__.py`, so every entry point gets it without any setting.
On macOS MLX uses Accelerate and the GPU; nothing is done there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Where Debian/Ubuntu and Fedora put OpenBLAS, tried after the linker's own search.
_OPENBLAS_CANDIDATES = (
    "libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib64/libopenblas.so.0",
)

_preloaded: str | None = None


def preload_optimized_blas() -> str | None:
    """Load OpenBLAS into the global symbol scope if MLX has not been imported yet.

    Returns the path that was loaded, or None (not Linux, already imported, or not installed).
    Safe to call more than once. PARLEY_BLAS=reference turns it off, for comparisons.
    """
    global _preloaded
    if _preloaded or not sys.platform.startswith("linux") or os.environ.get("PARLEY_BLAS") == "reference":
        return _preloaded
    if "mlx.core" in sys.modules:
        log.debug("mlx already imported; cannot switch its BLAS any more")
        return None
    names = []
    found = ctypes.util.find_library("openblas")
    if found:
        names.append(found)
    names.extend(_OPENBLAS_CANDIDATES)
    for name in names:
        try:
            ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            continue
        _preloaded = name
        return name
    return None


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


@dataclass(frozen=True)
class BlasReport:
    """Which library provides the matrix product MLX calls, and whether it is a fast one."""

    library: str
    optimized: bool


def active_blas() -> BlasReport:
    """Tell which library `cblas_sgemm` resolves to for MLX (imports mlx)."""
    import mlx.core  # noqa: F401  (the symbol must be bound before we look it up)

    if sys.platform == "darwin":
        return BlasReport("Accelerate (Apple)", True)
    library = _global_sgemm_library() or _mapped_blas_library()
    if library is None:
        return BlasReport("unknown", False)
    name = os.path.basename(library).lower()
    optimized = any(tag in name for tag in ("openblas", "mkl", "blis", "accelerate"))
    return BlasReport(library, optimized)


def _global_sgemm_library() -> str | None:
    """The file that provides `cblas_sgemm` in the global scope, which is where MLX's calls go."""
    try:
        libdl = ctypes.CDLL(None)
        address = ctypes.cast(libdl.cblas_sgemm, ctypes.c_void_p).value
        info = _DlInfo()
        libdl.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
        if not libdl.dladdr(address, ctypes.byref(info)) or not info.dli_fname:
            return None
    except (AttributeError, OSError):
        return None  # not in the global scope: MLX uses the BLAS it bundles
    return os.path.realpath(info.dli_fname.decode())


def _mapped_blas_library() -> str | None:
    """The first BLAS file mapped into this process (the wheel's bundled one when nothing was preloaded)."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "blas" in os.path.basename(path).lower():
                    return path
    except OSError:
        pass
    return None
