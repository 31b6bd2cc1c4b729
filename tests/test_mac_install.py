"""A Mac can install Parley: pyproject.toml's dependencies (with the dev extra, as `make test` installs them) resolve
for macOS on Apple Silicon to wheels only, checked here on Linux with uv against PyPI. A dependency added without a
macOS arm64 wheel (as pymicro-wakeword 2.x has none) fails this test the day it is added, naming the package.

jieba and docopt are the exceptions: pure-Python source releases only, which build anywhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPI = "https://pypi.org/simple"  # the index a Mac installs from (this machine's pip also reads local mirrors)
SOURCE_ONLY = ("jieba", "docopt")
RESOLVE_TIMEOUT_S = 300


def resolve_for_a_mac(pyproject: Path, out: Path) -> subprocess.CompletedProcess:
    """`uv pip compile` of `pyproject` for macOS arm64 and Python 3.12, wheels only (but SOURCE_ONLY), from PyPI."""
    command = [sys.executable, "-m", "uv", "pip", "compile", str(pyproject.resolve()), "--extra", "dev",
               "--python-platform", "aarch64-apple-darwin", "--python-version", "3.12", "--only-binary", ":all:",
               *[arg for name in SOURCE_ONLY for arg in ("--no-binary", name)],
               # PyPI alone: no uv.toml, no UV_* variables pointing elsewhere.
               "--no-config", "--default-index", PYPI,
               "--no-header", "--no-annotate", "--quiet", "-o", str(out.resolve())]
    env = {name: value for name, value in os.environ.items() if not name.startswith("UV_")}
    return subprocess.run(command, capture_output=True, text=True, timeout=RESOLVE_TIMEOUT_S, env=env, cwd=out.parent)


def without_a_mac_wheel(uv_output: str) -> list[str]:
    """The packages uv could find no usable wheel of, from its explanation of a failed resolution."""
    names = re.findall(r"Wheels are required for `([^`]+)`", uv_output)
    names += re.findall(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:[<>=!~][^ ]*)? has no usable wheels", uv_output)
    return sorted(set(names))


def check_a_mac_can_install(pyproject: Path, folder: Path) -> set[str]:
    """The names of the packages `pyproject` resolves to on a Mac; AssertionError naming those without a wheel."""
    result = resolve_for_a_mac(pyproject, folder / "macos-arm64.txt")
    if result.returncode != 0:
        missing = without_a_mac_wheel(result.stderr)
        if missing:
            raise AssertionError(f"no macOS arm64 wheel of {', '.join(missing)}: a Mac could not install Parley. "
                                 f"Pick a version that has one, or keep it off macOS with a marker "
                                 f"(; sys_platform != 'darwin').\n{result.stderr}")
        raise AssertionError(f"uv could not resolve {pyproject} for macOS arm64 from {PYPI}:\n{result.stderr}")
    pinned = [line for line in (folder / "macos-arm64.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    return {re.split(r"[=<>!~ ;]", line, maxsplit=1)[0].lower() for line in pinned}


def test_the_dependencies_resolve_to_macos_arm64_wheels(tmp_path):
    names = check_a_mac_can_install(ROOT / "pyproject.toml", tmp_path)
    # What a Mac installs: Metal MLX, the Qt binding and the chat engine among them (a marker gone wrong would
    # quietly leave one out), and not the Linux CPU build of MLX.
    assert {"mlx", "mlx-metal", "mlx-whisper", "mlx-lm", "pyside6-essentials", "xllamacpp", "faster-whisper",
            "pytest"} <= names, names
    assert "mlx-cpu" not in names
