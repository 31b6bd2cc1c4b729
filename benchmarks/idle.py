"""What listening costs while nobody speaks: the real `parley chat --json` on the virtual audio rig, hearing
silence, after start-up (a menu-bar app listens like this all day).

Prints {"idle": {"echo_cancellation_on": {...}, "echo_cancellation_off": {...}, "wake_word": {...}, "seconds": N}}
on one line (wake_word: listening for the wake word, echo cancellation on), each
with cpu_percent (the process's own CPU time over the wall time, in % of one core: other programs on the
machine do not count), rss_mb (VmRSS at the end), threads, and busiest_threads (the threads with the most CPU
time in the window, by their OS name, in % of one core).

Measured side by side on this project's 2-core machine: echo cancellation on 8.4% -> 4.7% of one core, off 5.0% ->
3.2% (ad714bd -> 02721f8); then, with the canceller bypassed after a second of silence played, on 6.6% -> 4.5%, off
4.3% -> 3.9% (2026-12-02, another run, another load). What is left: the speaker's callback handing out silence 100
times a second and the sound server's client threads (~2%), the listening thread (~1.7%: Silero, whose weights are out
of the caches at every wake-up) and the microphone's callback.

`python -m benchmarks.idle --source DIR [--source DIR2]` measures the Parley code in other source trees (a
`git worktree` of an older commit, say) one after the other in the same run, for before/after figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(stat_path: str) -> float:
    """utime + stime of a process or thread from its /proc stat line, in seconds."""
    with open(stat_path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _status(pid: int, key: str) -> str:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    return ""


def _thread_times(pid: int) -> dict[str, float]:
    """CPU seconds per thread, by OS thread name (threads of the same name added up)."""
    times: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            seconds = _cpu_seconds(f"/proc/{pid}/task/{tid}/stat")
        except OSError:  # the thread ended
            continue
        times[f"{name}:{tid}"] = seconds
    return times


class _Chat:
    """`parley chat --json` on the rig's devices; reads its events until it says it is listening."""

    def __init__(self, rig, args: list[str], source: Path) -> None:
        from rig.pulse import _die_with_parent

        self.log_dir = tempfile.mkdtemp(prefix="parley-idle-log-")
        env = dict(os.environ, **rig.env(), PARLEY_LOG_DIR=self.log_dir)
        # The source tree's `assistant` comes first on sys.path (`-m` puts the working directory there).
        env["PYTHONPATH"] = str(source) + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen([sys.executable, "-m", "assistant", "chat", "--json", *args], cwd=source,
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, preexec_fn=_die_with_parent)
        self.listening = threading.Event()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "StateChanged" and event.get("state") == "listening":
                self.listening.set()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def measure(rig, echo_cancellation: bool, seconds: float = 30.0, settle: float = 5.0,
            source: Path = ROOT, args: list[str] | None = None) -> dict:
    """Start `parley chat --json` (with `args`), wait until it listens plus `settle` s, and measure `seconds` of
    silence."""
    chat = _Chat(rig, ([] if echo_cancellation else ["--no-echo-cancellation"]) + (args or []), source)
    try:
        if not chat.listening.wait(300):
            raise RuntimeError(f"parley chat did not start listening (exit code {chat.proc.poll()})")
        time.sleep(settle)
        pid = chat.proc.pid
        threads_before = _thread_times(pid)
        cpu_before, wall_before = _cpu_seconds(f"/proc/{pid}/stat"), time.monotonic()
        time.sleep(seconds)
        cpu_after, wall_after = _cpu_seconds(f"/proc/{pid}/stat"), time.monotonic()
        threads_after = _thread_times(pid)
        wall = wall_after - wall_before
        busiest = sorted(((100 * (t - threads_before.get(k, 0.0)) / wall, k) for k, t in threads_after.items()),
                         reverse=True)[:5]
        result = {
            "cpu_percent": round(100 * (cpu_after - cpu_before) / wall, 2),
            "rss_mb": round(int(_status(pid, "VmRSS").split()[0]) / 1024, 1),
            "threads": int(_status(pid, "Threads")),
            "busiest_threads": {name: round(percent, 2) for percent, name in busiest if percent > 0},
        }
        if chat.proc.poll() is not None:
            raise RuntimeError(f"parley chat exited during the measurement ({chat.proc.returncode})")
        return result
    finally:
        chat.stop()


def main(seconds: float = 30.0, sources: list[Path] | None = None) -> dict:
    """Both settings (echo cancellation on and off) for each source tree (this one by default)."""
    from rig.pulse import AudioRig

    sources = sources or [ROOT]
    results = {}
    rig = AudioRig().start()
    try:
        for source in sources:
            figures = {f"echo_cancellation_{'on' if on else 'off'}": measure(rig, on, seconds, source=source)
                       for on in (True, False)}
            figures["wake_word"] = measure(rig, True, seconds, source=source, args=["--wake-word"])
            results[str(source)] = figures
    finally:
        rig.stop()
    result = {**(next(iter(results.values())) if len(sources) == 1 else results), "seconds": seconds}
    print(json.dumps({"idle": result}))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--source", type=Path, action="append", help="a source tree of Parley (repeatable)")
    options = parser.parse_args()
    main(options.seconds, [path.resolve() for path in options.source] if options.source else None)
