"""The engine's folders read as the data path, and its imports keep to it.

capture → listen → transcribe → chat → speak → playback: a stage imports no later stage, nor the conversation that
wires them, the command or the UI; it may use runtime/ (threads, events, settings, paths, logs), models/ and the
shared top-level modules. runtime/ and models/ serve every stage and import none of them (models/ may use runtime/).
tools/ (what a turn can do: timers, sums, memory, MCP) stands beside the data path and imports none of it; the chat
stage knows its calls, the conversation runs them.
Nothing in assistant/ imports ui/ (the engine never imports Qt). No module takes a private name from another folder.
No file of assistant/ or ui/ grows past ~400 lines: past that a file does more than one job.

Read from the source with `ast`, every import at any depth: the engine imports heavy modules inside the functions
that use them, and those count as much as the ones at the top.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("capture", "listen", "transcribe", "chat", "speak", "playback")
# Top-level modules that any part of the engine may use; they use no other part of it.
SHARED = ("assistant.audio_files", "assistant.chinese_script")
MAX_LINES = 400
# Longer files known, and why each is allowed for now. A file that no longer needs its place here fails the test
# too, so that the list does not outlive its reason.
TOO_LONG_FOR_NOW: set[str] = set()


@dataclass(frozen=True)
class Import:
    """One module or name taken by an import statement."""

    file: str  # the importing file, relative to the root ("assistant/capture/microphone.py")
    line: int
    target: str  # the module imported, absolute ("assistant.runtime.audio_stream"); for a name from a module, that module
    name: str = ""  # the name taken from `target` by `from target import name`, when it is not a module itself


def _module_of(path: Path, root: Path) -> list[str]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _is_module(dotted: str, root: Path) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    """Every import in the file `path`, at any depth, relative ones made absolute."""
    relative = path.relative_to(root).as_posix()
    package = _module_of(path, root)
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(relative, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                if _is_module(f"{module}.{alias.name}", root):
                    found.append(Import(relative, node.lineno, f"{module}.{alias.name}"))
                else:
                    found.append(Import(relative, node.lineno, module, alias.name))
    return sorted(found, key=lambda found: found.line)


def part_of(module: str, root: Path = ROOT) -> str | None:
    """The part of the project a module belongs to: "ui", a folder of assistant/ ("capture", "runtime", …), a shared
    top-level module ("assistant.audio_files"), "assistant" for the package's face; None outside the project."""
    parts = module.split(".")
    if parts[0] == "ui":
        return "ui"
    if parts[0] != "assistant":
        return None
    if len(parts) == 1:
        return "assistant"
    if (root / "assistant" / parts[1]).is_dir():
        return parts[1]
    return f"assistant.{parts[1]}"


def _forbidden(importer: str, imported: str) -> str | None:
    """Why the part `importer` may not import the part `imported`, or None when it may."""
    if imported == importer or imported is None:
        return None
    if imported == "ui":
        return "the engine never imports the UI"
    if importer in SHARED:
        return "a shared top-level module imports no other part of the engine (every part imports it)"
    if importer in STAGES:
        if imported in STAGES and STAGES.index(imported) > STAGES.index(importer):
            return f"{imported} is a later stage than {importer}"
        if imported in ("conversation", "cli"):
            return f"a stage does not import {imported}/, which wires the stages"
    if importer == "runtime" and (imported in STAGES or imported in ("models", "conversation", "cli")):
        return f"runtime/ serves every part and imports none of them ({imported}/)"
    if importer == "models" and (imported in STAGES or imported in ("conversation", "cli")):
        return f"models/ serves the stages and imports none of them ({imported}/)"
    if importer == "tools" and (imported in STAGES or imported in ("conversation", "cli", "models")):
        return f"tools/ is what a turn can do, beside the data path: it imports none of it ({imported}/)"
    return None


def _sources(root: Path, *folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (root / folder).rglob("*.py"))


def layout_problems(root: Path = ROOT) -> list[str]:
    """Every import of assistant/ and ui/ that runs against the layout, as "file:line: what and why"."""
    problems = []
    for path in _sources(root, "assistant", "ui"):
        importer = part_of(".".join(_module_of(path, root)), root)
        for found in imports_of(path, root):
            why = _forbidden(importer, part_of(found.target, root))
            if why:
                problems.append(f"{found.file}:{found.line}: imports {found.target}: {why}")
            private = found.name.startswith("_") and not found.name.startswith("__")
            if private and part_of(found.target, root) is not None and Path(found.file).parent != _folder(found, root):
                problems.append(f"{found.file}:{found.line}: imports the private {found.name} of {found.target} "
                                "from another folder: make it public, or move it")
    return problems


def _folder(found: Import, root: Path) -> Path:
    """The folder of the imported module, relative to the root."""
    path = root.joinpath(*found.target.split("."))
    return (path if path.is_dir() else path.parent).relative_to(root)


def long_files(root: Path = ROOT, allowed: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Files of assistant/ and ui/ over MAX_LINES lines, but for `allowed`, and any of `allowed` that no longer is."""
    problems = []
    for path in _sources(root, "assistant", "ui"):
        relative = path.relative_to(root).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and relative not in allowed:
            problems.append(f"{relative}: {lines} lines (over {MAX_LINES}): split it by responsibility")
        elif lines <= MAX_LINES and relative in allowed:
            problems.append(f"{relative}: {lines} lines now: take it off TOO_LONG_FOR_NOW")
    problems += [f"{name}: listed in TOO_LONG_FOR_NOW but gone" for name in allowed if not (root / name).is_file()]
    return problems


def test_imports_follow_the_data_path():
    problems = layout_problems()
    assert not problems, "\n".join(problems)


def test_no_file_is_over_400_lines_but_the_known_ones():
    problems = long_files(allowed=TOO_LONG_FOR_NOW)
    assert not problems, "\n".join(problems)


def test_the_checks_find_what_runs_against_the_layout(tmp_path):
    """The checks themselves, on a small tree that breaks each rule once (an import inside a function among them)."""
    def write(name: str, text: str) -> None:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    for folder in ("assistant", "ui", *(f"assistant/{part}" for part in STAGES + ("runtime", "models", "cli", "tools"))):
        write(f"{folder}/__init__.py", "")
    write("assistant/audio_files.py", "import numpy\n")
    write("assistant/capture/microphone.py", "def start():\n    from assistant.playback import speaker\n")
    write("assistant/listen/gate.py", "from assistant.capture.microphone import start\nfrom ..runtime import events\n")
    write("assistant/playback/speaker.py", "from assistant.cli.doctor import _check\nfrom . import _ring\n")
    write("assistant/playback/_ring.py", "")
    write("assistant/runtime/events.py", "from assistant.models import store\n")
    write("assistant/models/store.py", "from assistant.runtime.events import Bus\nfrom assistant.speak import voice\n")
    write("assistant/speak/voice.py", "import ui.app\n")
    write("assistant/cli/doctor.py", "from assistant.speak.voice import say\n")
    write("assistant/tools/timers.py", "from assistant.runtime.events import Bus\nfrom assistant.playback import speaker\n")
    write("ui/app.py", "from assistant.cli.doctor import _check\n" + "pass\n" * MAX_LINES)

    assert layout_problems(tmp_path) == [
        "assistant/capture/microphone.py:2: imports assistant.playback.speaker: playback is a later stage than capture",
        "assistant/models/store.py:2: imports assistant.speak.voice: models/ serves the stages and imports none of "
        "them (speak/)",
        "assistant/playback/speaker.py:1: imports assistant.cli.doctor: a stage does not import cli/, which wires "
        "the stages",
        "assistant/playback/speaker.py:1: imports the private _check of assistant.cli.doctor from another folder: "
        "make it public, or move it",
        "assistant/runtime/events.py:1: imports assistant.models.store: runtime/ serves every part and imports none "
        "of them (models/)",
        "assistant/speak/voice.py:1: imports ui.app: the engine never imports the UI",
        "assistant/tools/timers.py:2: imports assistant.playback.speaker: tools/ is what a turn can do, beside the "
        "data path: it imports none of it (playback/)",
        "ui/app.py:1: imports the private _check of assistant.cli.doctor from another folder: make it public, or "
        "move it",
    ]
    assert long_files(tmp_path, {"assistant/audio_files.py", "assistant/gone.py"}) == [
        "assistant/audio_files.py: 1 lines now: take it off TOO_LONG_FOR_NOW",
        "ui/app.py: 401 lines (over 400): split it by responsibility",
        "assistant/gone.py: listed in TOO_LONG_FOR_NOW but gone",
    ]
