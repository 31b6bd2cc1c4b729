"""A private PulseAudio daemon with a virtual speaker and microphone, for tests that need real audio devices.

Layout (all inside one throw-away daemon; nothing touches the user's own sound server):

    app ──▶ parley_speaker (null sink, default output) ──▶ .monitor ──▶ record_speaker(), speaker_recorder()
    play_into_mic() ──▶ parley_mic_feed (null sink) ──▶ .monitor ──▶ parley_mic (remap source, default input) ──▶ app
    enable_echo(): parley_speaker.monitor ──(module-loopback, latency, volume)──▶ parley_mic_feed
    remove_speaker() … restore_speaker(): parley_other_speaker (null sink) is the default output meanwhile

PortAudio (Debian's build has ALSA/JACK/OSS only) reaches the daemon through the ALSA `pulse` plugin
(libasound2-plugins): an extra ALSA config file, appended through ALSA_CONFIG_PATH, makes the ALSA "default" PCM
go to pulse and adds the named PCMs `parley_speaker` and `parley_mic`.

PortAudio lists its devices once, when `sounddevice` is imported (Pa_Initialize). In-process users call
`activate()` (the `audio_rig` fixture does) which sets the variables in os.environ and, if sounddevice was
imported already, re-scans with `sounddevice._terminate(); sounddevice._initialize()` (no stream may be open then).
Subprocesses get `env()` merged into their environment.
"""

from __future__ import annotations

import atexit
import ctypes
import glob
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SPEAKER_SINK = "parley_speaker"
MIC_FEED_SINK = "parley_mic_feed"
MIC_SOURCE = "parley_mic"
SINK_RATE = 48000
# The speaker: a null sink of its own module (so it can be removed and brought back on its own).
_SPEAKER_SINK_ARGS = (f"sink_name={SPEAKER_SINK}", f"rate={SINK_RATE}", "channels=2",
                      "sink_properties=device.description=Parley-rig-speaker")
# While the speaker is removed: the machine's other output (as a laptop's own speakers are when headphones go).
OTHER_SPEAKER_SINK = "parley_other_speaker"
_OTHER_SPEAKER_SINK_ARGS = (f"sink_name={OTHER_SPEAKER_SINK}", f"rate={SINK_RATE}", "channels=2",
                            "sink_properties=device.description=Parley-rig-other-speaker")
# The microphone: a remap of the mic feed's monitor (so it can be removed and brought back on its own).
_MIC_SOURCE_ARGS = (f"master={MIC_FEED_SINK}.monitor", f"source_name={MIC_SOURCE}", "channels=1", "channel_map=mono",
                    "source_properties=device.description=Parley-rig-microphone")

APT_PACKAGES = "libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins"

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except Exception:
        pass


def _pulse_alsa_plugin_present() -> bool:
    return bool(glob.glob("/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so")
                or glob.glob("/usr/lib*/alsa-lib/libasound_module_pcm_pulse.so"))


class Recorder:
    """Records a PulseAudio source (e.g. the speaker's monitor) in the background: start() … stop() → float32 mono.

    Also a context manager: `with rig.speaker_recorder() as rec: …` then `rec.audio`.
    """

    def __init__(self, rig: "AudioRig", device: str, rate: int = SINK_RATE):
        self.rig, self.device, self.rate = rig, device, rate
        self.audio: np.ndarray | None = None
        self.started_at: float | None = None  # time.monotonic() when the first bytes arrived
        self._proc: subprocess.Popen | None = None
        self._chunks: list[bytes] = []
        self._thread: threading.Thread | None = None

    def start(self) -> "Recorder":
        if self._proc is not None:
            raise RuntimeError("recorder already started")
        self._proc = self.rig._spawn(
            ["pacat", "--record", f"--device={self.device}", "--raw", "--format=float32le", "--channels=1",
             f"--rate={self.rate}", "--latency-msec=10", "--client-name=parley-rig-recorder"],
            stdout=subprocess.PIPE)
        self._thread = threading.Thread(target=self._pump, name=f"rig-recorder-{self.device}", daemon=True)
        self._thread.start()
        return self

    def _pump(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            if self.started_at is None:
                self.started_at = time.monotonic()
            self._chunks.append(data)

    def snapshot(self) -> np.ndarray:
        """What has been recorded so far (a copy), while recording goes on."""
        raw = b"".join(list(self._chunks))
        return np.frombuffer(raw[: len(raw) // 4 * 4], dtype="<f4").astype(np.float32)

    def wait_for_sound(self, seconds: float = 0.5, level: float = 0.02, timeout: float = 60.0) -> None:
        """Wait until `seconds` of what was recorded is sound (20 ms pieces louder than `level` RMS): a reply has
        been heard for that long. AssertionError after `timeout` s."""
        piece = self.rate // 50
        deadline = time.monotonic() + timeout
        while True:
            audio = self.snapshot()
            pieces = audio[: len(audio) // piece * piece].reshape(-1, piece)
            loud = int((np.sqrt((pieces**2).mean(axis=1)) > level).sum()) if len(pieces) else 0
            if loud * piece >= seconds * self.rate:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.device}: {loud * piece / self.rate:.2f} s of sound in {timeout:g} s, "
                                     f"not {seconds:g}")
            time.sleep(0.02)

    def wait_until(self, moment: float, timeout: float = 30.0) -> None:
        """Wait until the recording holds what played up to `moment` (a time.monotonic()): it goes on in real
        time, so this paces the test by the audio. AssertionError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while self.started_at is None or self.started_at + len(self.snapshot()) / self.rate < moment:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.device}: the recording did not reach {moment:.2f} within {timeout:g} s")
            time.sleep(0.02)

    def stop(self) -> np.ndarray:
        """Stop recording and return what was recorded (again, if already stopped)."""
        if self._proc is None:
            if self.audio is not None:
                return self.audio
            raise RuntimeError("recorder not started")
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.rig._end(self._proc)
        self.audio = self.snapshot()
        self._proc = None
        return self.audio

    def __enter__(self) -> "Recorder":
        return self.start()

    def __exit__(self, *exc) -> None:
        if self._proc is not None:
            self.stop()


SpeakerRecorder = Recorder  # name used by the test plan


class AudioRig:
    """A private PulseAudio daemon with a virtual speaker and microphone. See the module docstring."""

    SpeakerRecorder = Recorder

    def __init__(self, latency_msec: int = 40, extra_config: str = ""):
        """latency_msec: PULSE_LATENCY_MSEC for clients; extra_config: lines appended to the daemon's script."""
        self.latency_msec = latency_msec
        self.extra_config = extra_config
        self.root: Path | None = None
        self._daemon: subprocess.Popen | None = None
        self._daemon_log: Path | None = None
        self._procs: list[subprocess.Popen] = []  # readers, players, recorders: everything we spawned
        self._readers: list[subprocess.Popen] = []
        self._echo_module: int | None = None
        self._echo_settings: tuple[int, float] | None = None  # (latency_ms, volume_db) of the echo path
        self._saved_environ: dict[str, str | None] | None = None
        self._lock = threading.Lock()
        self._atexit_registered = False

    # ---------------------------------------------------------------- life cycle

    @property
    def running(self) -> bool:
        return self._daemon is not None and self._daemon.poll() is None

    def start(self) -> "AudioRig":
        """Start the daemon, the virtual devices and the monitor readers; wait until the mic delivers data."""
        if self.running:
            return self
        if not sys.platform.startswith("linux"):
            raise RuntimeError(f"the PulseAudio audio rig runs on Linux only (this is {sys.platform})")
        missing = [tool for tool in ("pulseaudio", "pactl", "pacat") if shutil.which(tool) is None]
        if missing:
            raise RuntimeError(f"the audio rig needs {', '.join(missing)}: apt-get install {APT_PACKAGES}")
        if not _pulse_alsa_plugin_present():
            raise RuntimeError("the audio rig needs the ALSA pulse plugin (PortAudio reaches PulseAudio through it): "
                               f"apt-get install {APT_PACKAGES}")
        self.stop()  # leftovers of a daemon that died
        _remove_stale_rig_dirs()
        self.root = Path(tempfile.mkdtemp(prefix=_DIR_PREFIX))
        (self.root / "owner.pid").write_text(str(os.getpid()))
        try:
            self._write_config()
            self._start_daemon()
            self._start_readers()
            self._wait_for_mic()
        except BaseException:
            self.stop()
            raise
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        return self

    def stop(self) -> None:
        """Stop every process the rig started and remove its folder. Safe to call more than once."""
        self.deactivate()
        with self._lock:
            procs, self._procs, self._readers = self._procs, [], []
        for proc in procs:
            self._end(proc)
        if self._daemon is not None:
            self._end(self._daemon, grace=3.0)
            self._daemon = None
        self._echo_module = None
        self._echo_settings = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> "AudioRig":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---------------------------------------------------------------- environment

    def env(self) -> dict[str, str]:
        """Variables a client (subprocess, or this process before importing sounddevice) needs.

        HOME, XDG_RUNTIME_DIR and XDG_CONFIG_HOME are left alone, so clients keep their model store, settings
        and display; the cookie and client.conf paths keep libpulse from writing into the user's ~/.config/pulse.
        """
        root = self._require_root()
        return {
            "PULSE_SERVER": f"unix:{root / 'runtime' / 'pulse' / 'native'}",
            "PULSE_COOKIE": str(root / "cookie"),
            "PULSE_CLIENTCONFIG": str(root / "client.conf"),
            "PULSE_LATENCY_MSEC": str(self.latency_msec),
            "ALSA_CONFIG_PATH": f"{_alsa_base_config()}:{root / 'asoundrc'}",
        }

    def activate(self) -> None:
        """Put env() into os.environ, and make an already imported sounddevice re-scan its devices."""
        if self._saved_environ is None:
            self._saved_environ = {key: os.environ.get(key) for key in self.env()}
        os.environ.update(self.env())
        _rescan_sounddevice()

    def deactivate(self) -> None:
        """Undo activate(): restore os.environ (sounddevice is re-scanned only if imported)."""
        if self._saved_environ is None:
            return
        for key, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environ = None
        _rescan_sounddevice()

    # ---------------------------------------------------------------- devices

    @property
    def speaker_name(self) -> str:
        """The speaker as PortAudio lists it (an ALSA PCM); it is the default output as well."""
        return SPEAKER_SINK

    @property
    def microphone_name(self) -> str:
        """The microphone as PortAudio lists it (an ALSA PCM); it is the default input as well."""
        return MIC_SOURCE

    speaker_monitor = f"{SPEAKER_SINK}.monitor"

    # ---------------------------------------------------------------- audio in and out

    def play_into_mic(self, audio: np.ndarray, rate: int, wait: bool = True) -> None:
        """Play mono (or frames × channels) audio into the microphone, in real time.

        wait=False returns at once; `wait_for_mic_playback()` waits for it, stop() ends it.
        """
        audio = np.asarray(audio, dtype=np.float32)
        channels = 1 if audio.ndim == 1 else audio.shape[1]
        proc = self._spawn(
            ["pacat", "--playback", f"--device={MIC_FEED_SINK}", "--raw", "--format=float32le",
             # 200 ms of buffer: no gaps when the machine is busy; the audio still starts as soon (~40-50 ms)
             f"--channels={channels}", f"--rate={int(rate)}", "--latency-msec=200",
             "--client-name=parley-rig-player"],
            stdin=subprocess.PIPE)
        data = np.ascontiguousarray(audio).astype("<f4").tobytes()

        def feed() -> None:
            try:
                proc.stdin.write(data)
                proc.stdin.close()
            except (BrokenPipeError, ValueError, OSError):
                pass

        feeder = threading.Thread(target=feed, name="rig-mic-player", daemon=True)
        feeder.start()
        if wait:
            seconds = len(audio) / rate
            feeder.join(timeout=seconds + 10)
            try:
                proc.wait(timeout=seconds + 10)
            finally:
                self._end(proc)

    def wait_for_mic_playback(self, timeout: float = 60.0) -> None:
        """Wait for every play_into_mic(wait=False) to finish."""
        deadline = time.monotonic() + timeout
        for proc in self._players():
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            self._end(proc)

    def record_speaker(self, seconds: float, rate: int = SINK_RATE) -> tuple[np.ndarray, int]:
        """Record `seconds` of what the app plays (the speaker's monitor), as float32 mono."""
        return self._record(self.speaker_monitor, seconds, rate), rate

    def record_microphone(self, seconds: float, rate: int = SINK_RATE) -> tuple[np.ndarray, int]:
        """Record `seconds` of what the app hears (the microphone), as float32 mono."""
        return self._record(MIC_SOURCE, seconds, rate), rate

    def speaker_recorder(self, rate: int = SINK_RATE) -> Recorder:
        return Recorder(self, self.speaker_monitor, rate)

    def microphone_recorder(self, rate: int = SINK_RATE) -> Recorder:
        return Recorder(self, MIC_SOURCE, rate)

    # ---------------------------------------------------------------- echo

    def enable_echo(self, latency_ms: int = 40, volume_db: float = -10.0) -> None:
        """Play the speaker back into the microphone (as laptop speakers do), `latency_ms` later (the loopback's
        own latency: the app measures about latency_ms + 50 ms from its output callback to its input callback),
        `volume_db` quieter."""
        self.disable_echo()
        self._echo_settings = (latency_ms, volume_db)
        out = self._pactl("load-module", "module-loopback", f"source={self.speaker_monitor}", f"sink={MIC_FEED_SINK}",
                          f"latency_msec={int(latency_ms)}", "source_dont_move=true", "sink_dont_move=true",
                          "remix=true", "sink_input_properties=media.name=parley-rig-echo")
        self._echo_module = int(out.strip())
        inputs = json.loads(self._pactl("--format=json", "list", "sink-inputs"))
        mine = [item["index"] for item in inputs if str(item.get("owner_module")) == str(self._echo_module)]
        if not mine:
            raise RuntimeError(f"module-loopback #{self._echo_module} has no sink input")
        factor = 10 ** (volume_db / 20)
        self._pactl("set-sink-input-volume", str(mine[0]), f"{factor:.6f}")

    def disable_echo(self) -> None:
        self._echo_settings = None
        if self._echo_module is not None:
            module, self._echo_module = self._echo_module, None
            if self.running:
                self._pactl("unload-module", str(module))

    # ---------------------------------------------------------------- unplugging

    def remove_microphone(self, take_streams: bool = True) -> None:
        """Unplug the microphone: its PulseAudio source disappears and the daemon's default input falls back to
        another source (the speaker's monitor). restore_microphone() plugs it back.

        PulseAudio itself moves the streams that were recording from a vanished source to its fallback, so a client
        sees nothing at all (take_streams=False: what a desktop sound server does). take_streams=True also kills
        those streams, as a device that vanishes under a plain ALSA or CoreAudio host does: PortAudio's stream then
        stays "active" but its callbacks stop for good."""
        modules = [line.split("\t") for line in self._pactl("list", "short", "modules").splitlines()]
        mine = [m[0] for m in modules
                if len(m) > 2 and m[1] == "module-remap-source" and f"source_name={MIC_SOURCE}" in m[2].split()]
        if not mine:
            raise RuntimeError(f"the microphone {MIC_SOURCE} is not plugged in")
        self._drop_readers(MIC_SOURCE)  # the rig's own keep-alive reader
        recording = self._stream_indexes("source-outputs", self._device_index("sources", MIC_SOURCE))
        for module in mine:
            self._pactl("unload-module", module)
        if take_streams:
            for index in recording:  # (one that ended meanwhile answers "No source output found")
                self._pulse_cli(f"kill-source-output {index}")

    def restore_microphone(self) -> None:
        """Plug the microphone back in as the default input (a no-op when it is there); wait until it delivers.

        Streams that follow the default input (the app's, opened on the system default) move to it. So do the rig's
        own keep-alive readers, which are restarted on their sources; a Recorder running across this may move too."""
        if self.microphone_present:
            return
        self._pactl("load-module", "module-remap-source", *_MIC_SOURCE_ARGS)
        self._pactl("set-default-source", MIC_SOURCE)
        with self._lock:
            readers, self._readers = self._readers, []
        for reader in readers:
            self._end(reader)
        self._start_readers()
        self._wait_for_mic()

    def stall_microphone(self, stalled: bool = True) -> None:
        """Make the microphone stop delivering audio (PulseAudio suspends the source) or, with False, go on again.

        Its streams stay connected, and PortAudio's stay "active", but their callbacks stop: a device that hangs."""
        self._pactl("suspend-source", MIC_SOURCE, "1" if stalled else "0")

    @property
    def microphone_present(self) -> bool:
        return MIC_SOURCE in self._pactl("list", "short", "sources").split()

    def remove_speaker(self, take_streams: bool = True) -> None:
        """Unplug the speaker: its PulseAudio sink disappears and the daemon's default output becomes the machine's
        other output, `other_speaker_monitor` records it (never the mic feed: Parley must not play into its own
        microphone). restore_speaker() plugs the speaker back.

        PulseAudio itself moves the streams that were playing on a vanished sink to the default output, so a client
        sees nothing at all (take_streams=False: what a desktop sound server does). take_streams=True also kills
        those streams, as a device that vanishes under a plain ALSA or CoreAudio host does: PortAudio's stream then
        ends (its ALSA poll fails). An echo path (enable_echo) goes with the speaker and comes back with it."""
        mine = self._speaker_modules()
        if not mine:
            raise RuntimeError(f"the speaker {SPEAKER_SINK} is not plugged in")
        if OTHER_SPEAKER_SINK not in self._pactl("list", "short", "sinks").split():
            self._pactl("load-module", "module-null-sink", *_OTHER_SPEAKER_SINK_ARGS)
            reader = self._spawn(["pacat", "--record", f"--device={self.other_speaker_monitor}", "--raw",
                                  "--latency-msec=10", "--client-name=parley-rig-keepalive"], stdout=subprocess.DEVNULL)
            with self._lock:
                self._readers.append(reader)
        if self._echo_module is not None:  # module-loopback would unload itself with the monitor it records
            module, self._echo_module = self._echo_module, None
            self._pactl("unload-module", str(module))
        self._drop_readers(self.speaker_monitor)  # the rig's own keep-alive reader
        playing = self._stream_indexes("sink-inputs", self._device_index("sinks", SPEAKER_SINK))
        # The other output is the default before the speaker goes, so the streams that follow the default move
        # there and not, for a moment, to the mic feed (the only other sink PulseAudio could fall back to).
        self._pactl("set-default-sink", OTHER_SPEAKER_SINK)
        for module in mine:
            self._pactl("unload-module", module)
        if take_streams:
            for index in playing:  # (one that ended meanwhile answers "No sink input found")
                try:
                    self._pulse_cli(f"kill-sink-input {index}")
                except RuntimeError:
                    pass

    def restore_speaker(self) -> None:
        """Plug the speaker back in as the default output (a no-op when it is there); wait until its monitor delivers.

        Streams that follow the default output (the app's, opened on the system default) move to it; the other
        output goes away again (what still plays there moves to the speaker), and the echo path comes back."""
        if self.speaker_present:
            return
        self._pactl("load-module", "module-null-sink", *_SPEAKER_SINK_ARGS)
        self._pactl("set-default-sink", SPEAKER_SINK)
        self._drop_readers(self.other_speaker_monitor)
        others = [line.split("\t") for line in self._pactl("list", "short", "modules").splitlines()]
        for module in [m[0] for m in others if len(m) > 2 and m[1] == "module-null-sink"
                       and f"sink_name={OTHER_SPEAKER_SINK}" in m[2].split()]:
            self._pactl("unload-module", module)
        reader = self._spawn(["pacat", "--record", f"--device={self.speaker_monitor}", "--raw", "--latency-msec=10",
                              "--client-name=parley-rig-keepalive"], stdout=subprocess.DEVNULL)
        with self._lock:
            self._readers.append(reader)
        if self._echo_settings is not None:
            self.enable_echo(*self._echo_settings)
        self._wait_for_mic(source=self.speaker_monitor)

    def stall_speaker(self, stalled: bool = True) -> None:
        """Make the speaker stop playing (PulseAudio suspends the sink) or, with False, go on again.

        Its streams stay connected, and PortAudio's stay "active", but their callbacks stop (a new stream gets the
        few blocks that fill its buffer, then none): a device that hangs. Its monitor stops too."""
        self._pactl("suspend-sink", SPEAKER_SINK, "1" if stalled else "0")

    @property
    def speaker_present(self) -> bool:
        return SPEAKER_SINK in self._pactl("list", "short", "sinks").split()

    other_speaker_monitor = f"{OTHER_SPEAKER_SINK}.monitor"

    def other_speaker_recorder(self, rate: int = SINK_RATE) -> Recorder:
        """Records the default output while the speaker is removed (see remove_speaker)."""
        return Recorder(self, self.other_speaker_monitor, rate)

    def _speaker_modules(self) -> list[str]:
        modules = [line.split("\t") for line in self._pactl("list", "short", "modules").splitlines()]
        return [m[0] for m in modules
                if len(m) > 2 and m[1] == "module-null-sink" and f"sink_name={SPEAKER_SINK}" in m[2].split()]

    def _drop_readers(self, source: str) -> None:
        with self._lock:
            gone = [p for p in self._readers if f"--device={source}" in p.args]
            self._readers = [p for p in self._readers if p not in gone]
        for proc in gone:
            self._end(proc)

    def _device_index(self, kind: str, name: str) -> str | None:
        for line in self._pactl("list", "short", kind).splitlines():
            fields = line.split("\t")
            if len(fields) > 1 and fields[1] == name:
                return fields[0]
        return None

    def _stream_indexes(self, kind: str, device_index: str | None) -> list[str]:
        """Indexes of the streams (sink-inputs / source-outputs) on a device, from `pactl list short`."""
        if device_index is None:
            return []
        rows = [line.split("\t") for line in self._pactl("list", "short", kind).splitlines()]
        return [row[0] for row in rows if len(row) > 1 and row[1] == device_index]

    def _pulse_cli(self, command: str) -> str:
        """One command of PulseAudio's CLI protocol (pactl has no kill-source-output), returning the daemon's answer;
        the protocol's module loads on first use."""
        socket_path = self._require_root() / "cli"
        if not socket_path.exists():
            self._pactl("load-module", "module-cli-protocol-unix", f"socket={socket_path}")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as cli:
            cli.settimeout(5)
            cli.connect(str(socket_path))
            cli.sendall(f"{command}\n".encode())
            cli.shutdown(socket.SHUT_WR)  # the daemon answers and hangs up ("exit" would end the daemon itself)
            reply = b""
            while True:
                chunk = cli.recv(4096)
                if not chunk:
                    break
                reply += chunk
        answer = reply.decode(errors="replace").strip()
        if answer.startswith(("Failed", "Unknown command")):
            raise RuntimeError(f"pulseaudio cli {command!r}: {answer}")
        return answer

    # ---------------------------------------------------------------- internals

    def _require_root(self) -> Path:
        if self.root is None:
            raise RuntimeError("the audio rig is not started (call start() first)")
        return self.root

    def _write_config(self) -> None:
        root = self._require_root()
        for sub in ("runtime", "home", "home/.config"):
            (root / sub).mkdir(mode=0o700, exist_ok=True)
        (root / "daemon.pa").write_text(
            "load-module module-native-protocol-unix auth-anonymous=1\n"
            f"load-module module-null-sink {' '.join(_SPEAKER_SINK_ARGS)}\n"
            f"load-module module-null-sink sink_name={MIC_FEED_SINK} rate={SINK_RATE} channels=1 channel_map=mono "
            "sink_properties=device.description=Parley-rig-mic-feed\n"
            f"load-module module-remap-source {' '.join(_MIC_SOURCE_ARGS)}\n"
            f"set-default-sink {SPEAKER_SINK}\n"
            f"set-default-source {MIC_SOURCE}\n"
            + self.extra_config)
        (root / "client.conf").write_text("autospawn = no\n")
        (root / "asoundrc").write_text(
            "pcm.!default { type pulse hint { show on description \"Parley rig (PulseAudio default)\" } }\n"
            "ctl.!default { type pulse }\n"
            # asym with one side only: PortAudio lists the speaker as output-only and the microphone as input-only
            f"pcm.{SPEAKER_SINK} {{ type asym playback.pcm {{ type pulse device {SPEAKER_SINK} }} "
            "hint { show on description \"Parley rig speaker\" } }\n"
            f"pcm.{MIC_SOURCE} {{ type asym capture.pcm {{ type pulse device {MIC_SOURCE} }} "
            "hint { show on description \"Parley rig microphone\" } }\n")

    def _daemon_env(self) -> dict[str, str]:
        root = self._require_root()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_") and k != "ALSA_CONFIG_PATH"}
        env.update(HOME=str(root / "home"), XDG_RUNTIME_DIR=str(root / "runtime"),
                   XDG_CONFIG_HOME=str(root / "home" / ".config"))
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        return env

    def _start_daemon(self) -> None:
        root = self._require_root()
        self._daemon_log = root / "pulseaudio.log"
        with open(self._daemon_log, "wb") as log:
            self._daemon = subprocess.Popen(
                ["pulseaudio", "-n", "-F", str(root / "daemon.pa"), "--daemonize=no", "--system=no",
                 "--exit-idle-time=-1", "--disable-shm=yes", "--high-priority=no", "--realtime=no",
                 "--use-pid-file=no", "--log-target=stderr", "--log-level=notice"],
                env=self._daemon_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=_die_with_parent)
        socket = root / "runtime" / "pulse" / "native"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._daemon.poll() is not None:
                raise RuntimeError(f"pulseaudio exited with status {self._daemon.returncode}:\n{self.daemon_log()}")
            if socket.exists() and self._pactl_ok("info"):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"pulseaudio did not answer within 15 s:\n{self.daemon_log()}")
        # A failing line of the script does not stop the daemon (.fail or not): look for errors ourselves. (It ran
        # the script before it took a client, and writes its log unbuffered: the errors are in the log by now.)
        errors = [line for line in self.daemon_log().splitlines() if line.startswith("E:")]
        names = self._pactl("list", "short", "sinks") + self._pactl("list", "short", "sources")
        absent = [n for n in (SPEAKER_SINK, MIC_FEED_SINK, MIC_SOURCE) if n not in names.split()]
        if errors or absent:
            raise RuntimeError(f"pulseaudio started with errors{f' (missing {absent})' if absent else ''}:\n"
                               f"{self.daemon_log()}")
        cookie = root / "home" / ".config" / "pulse" / "cookie"
        if cookie.exists():
            shutil.copyfile(cookie, root / "cookie")
        else:  # auth-anonymous=1: any cookie does; it only keeps libpulse from creating one in ~/.config/pulse
            (root / "cookie").write_bytes(os.urandom(256))

    def daemon_log(self) -> str:
        try:
            return self._daemon_log.read_text(errors="replace") if self._daemon_log else ""
        except OSError:
            return ""

    def _start_readers(self) -> None:
        # An idle null sink renders in 2 s blocks; a low-latency reader on each monitor keeps them in short blocks,
        # so new streams start at once and play at the right speed.
        for source in (self.speaker_monitor, f"{MIC_FEED_SINK}.monitor", MIC_SOURCE):
            reader = self._spawn(["pacat", "--record", f"--device={source}", "--raw", "--latency-msec=10",
                                  "--client-name=parley-rig-keepalive"], stdout=subprocess.DEVNULL)
            self._readers.append(reader)

    def _wait_for_mic(self, timeout: float = 10.0, source: str = MIC_SOURCE) -> None:
        """Wait until the microphone (or another source) delivers data at real-time speed."""
        rate, bytes_per_s = 16000, 16000 * 2
        proc = self._spawn(["pacat", "--record", f"--device={source}", "--raw", "--format=s16le", "--channels=1",
                            f"--rate={rate}", "--latency-msec=10"], stdout=subprocess.PIPE)
        try:
            deadline = time.monotonic() + timeout
            got, first = 0, None
            fd = proc.stdout.fileno()
            while time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if ready:
                    data = os.read(fd, 65536)
                    if not data:
                        break
                    now = time.monotonic()
                    if first is None:
                        first = now
                    got += len(data)
                    # Steady: 0.3 s of audio after the first bytes, arriving no faster than ~1.5x real time
                    # (a burst of buffered audio means the source still runs in big blocks).
                    if got >= 0.3 * bytes_per_s and now - first >= 0.3 * got / bytes_per_s / 1.5 + 0.1:
                        return
                if proc.poll() is not None:
                    break
            raise RuntimeError(f"{source} delivered no steady audio within {timeout:.0f} s "
                               f"(got {got} bytes)\n{self.daemon_log()}")
        finally:
            self._end(proc)

    def _record(self, device: str, seconds: float, rate: int) -> np.ndarray:
        want = int(round(seconds * rate)) * 4
        proc = self._spawn(["pacat", "--record", f"--device={device}", "--raw", "--format=float32le",
                            "--channels=1", f"--rate={rate}", "--latency-msec=10"], stdout=subprocess.PIPE)
        chunks, got = [], 0
        try:
            fd = proc.stdout.fileno()
            deadline = time.monotonic() + seconds + 10
            while got < want and time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if ready:
                    data = os.read(fd, want - got)
                    if not data:
                        break
                    chunks.append(data)
                    got += len(data)
        finally:
            self._end(proc)
        raw = b"".join(chunks)
        return np.frombuffer(raw[: len(raw) // 4 * 4], dtype="<f4").astype(np.float32)

    def _spawn(self, argv: list[str], **kwargs) -> subprocess.Popen:
        env = {**os.environ, **self.env()}
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        proc = subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent, **kwargs)
        with self._lock:
            self._procs.append(proc)
        return proc

    def _players(self) -> list[subprocess.Popen]:
        with self._lock:
            return [p for p in self._procs if isinstance(p.args, list) and "--playback" in p.args]

    def _end(self, proc: subprocess.Popen, grace: float = 1.0) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        with self._lock:
            if proc in self._procs:
                self._procs.remove(proc)

    def _pactl(self, *args: str) -> str:
        result = subprocess.run(["pactl", *args], env={**os.environ, **self.env()}, capture_output=True, text=True,
                                timeout=10)
        if result.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)} failed: {result.stderr.strip()}\n{self.daemon_log()}")
        return result.stdout

    def _pactl_ok(self, *args: str) -> bool:
        try:
            return subprocess.run(["pactl", *args], env={**os.environ, **self.env()}, capture_output=True,
                                  timeout=5).returncode == 0
        except subprocess.TimeoutExpired:
            return False


_DIR_PREFIX = "parley-audio-rig-"


def _remove_stale_rig_dirs() -> None:
    """Folders of rigs whose process was killed (SIGKILL leaves them; their daemons die with the process)."""
    for owner in Path(tempfile.gettempdir()).glob(f"{_DIR_PREFIX}*/owner.pid"):
        try:
            os.kill(int(owner.read_text()), 0)
        except ProcessLookupError:
            shutil.rmtree(owner.parent, ignore_errors=True)
        except (OSError, ValueError):
            pass


def _alsa_base_config() -> str:
    """alsa-lib's own top-level config (it loads /etc/asound.conf and ~/.asoundrc); ours is appended after it."""
    for path in ("/usr/share/alsa/alsa.conf", "/etc/alsa/alsa.conf"):
        if os.path.exists(path):
            return path
    return "/usr/share/alsa/alsa.conf"


def _rescan_sounddevice() -> None:
    """PortAudio lists devices once; if sounddevice is already imported, make it list them again."""
    sd = sys.modules.get("sounddevice")
    if sd is None or getattr(sd, "_initialized", 1) <= 0:  # not imported, or already shut down (at exit)
        return
    sd._terminate()
    sd._initialize()
