"""The OpenAI-compatible servers the tests start for real (`make test-servers` installs them in .venv-servers/, apart
from Parley's environment), on a free local port, ready once their health endpoint answers."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

SERVERS = Path(__file__).resolve().parents[2] / ".venv-servers"
READY_S = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalServer:
    """`command` (its program under .venv-servers/, then its arguments) run with `env` added, its output in `log`;
    `url` is its API root. RuntimeError, with the log's tail, when it is not installed or does not come up."""

    def __init__(self, command: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> None:
        program = SERVERS / command[0]
        if not program.is_file():
            raise RuntimeError(f"{program} is missing: `make test-servers` installs it")
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen([str(program), *command[1:]], stdout=out, stderr=subprocess.STDOUT,
                                            env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
        deadline = time.monotonic() + READY_S
        while not self._healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{program.name} did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)  # polling its health endpoint until it answers (a state, checked)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as answer:
                return answer.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
