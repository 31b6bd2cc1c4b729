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


def speech_server(folder: Path, whisper_ct2: Path, threads: int = 1) -> LocalServer:
    """faster-whisper-server serving the CTranslate2 Whisper in `whisper_ct2` as "whisper-1" (int8, greedy)."""
    config = folder / "stt.yaml"
    config.write_text(f"model_options: {{device: cpu, compute_type: int8, cpu_threads: {threads}}}\n"
                      f"models:\n  - name: whisper-1\n    path: {whisper_ct2}\n    transcribe_options: {{beam_size: 1}}\n")
    port = free_port()
    return LocalServer(["stt/bin/faster-whisper-server", "--config", str(config), "--host", "127.0.0.1",
                        "--port", str(port)], port, folder / "stt.log")


def voice_server(folder: Path, kokoro: Path, threads: int = 1) -> LocalServer:
    """fastkokoro on the Kokoro store folder `kokoro` (its model.onnx and voices.npz), without a warm-up."""
    port = free_port()
    return LocalServer(["tts/bin/fastkokoro"], port, folder / "tts.log", env={
        "FASTKOKORO_MODEL_PATH": str(kokoro / "model.onnx"), "FASTKOKORO_VOICES_PATH": str(kokoro / "voices.npz"),
        "FASTKOKORO_CACHE_DIR": str(folder / "tts-cache"), "FASTKOKORO_HOST": "127.0.0.1", "FASTKOKORO_PORT": str(port),
        "FASTKOKORO_ONNX_INTRA_OP_NUM_THREADS": str(threads), "FASTKOKORO_ONNX_AUTO_PROVIDERS": "0",
        "FASTKOKORO_WARMUP": "0"})
