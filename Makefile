# Parley: `make run` sets up and starts the app, `make test` sets up and runs the whole suite.
# Both work on a fresh machine: they install system packages (Debian, as root), a virtualenv,
# the Python packages and the default model pack, skipping whatever is already there.

# The first Python >= 3.11 that actually runs (a pyenv shim can exist for a version that isn't active).
ifeq ($(origin PYTHON), undefined)
PYTHON := $(shell for p in python3 python3.11 python3.12 python3.13; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UNAME := $(shell uname -s)

# Debian packages: PortAudio for sound, OpenBLAS for fast MLX matrix products on the CPU, and
# PulseAudio with its ALSA plugin for the tests' virtual microphone and speaker.
# Audio (PortAudio, and the PulseAudio of the virtual test devices), BLAS, Qt's X11 platform plugin, and
# the virtual screen, tray host and key presses of the desktop-app tests, and stress-ng for `make test-busy`;
# Noto CJK, so Korean and Chinese text is drawn (a desktop without a CJK font shows empty boxes).
APT_PACKAGES := libportaudio2 libopenblas0-pthread pulseaudio pulseaudio-utils libasound2-plugins \
	libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3 \
	xvfb trayer xdotool x11-utils stress-ng espeak-ng fonts-noto-cjk

.PHONY: run test test-strict test-servers test-ui screenshots test-busy bench bench-realtime soak setup system-packages models doctor clean

run: models
	$(BIN)/parley

# Live tests still fail now and then on this 2-core machine (a reply paused by its own echo, a turn ended in a
# thinking pause): each failed test gets two more tries here, and the log says which needed them. Issue 20 wants
# none; `make test-strict` is the suite without them.
test: models test-servers
	$(BIN)/python -m pytest -q --reruns 2 --reruns-delay 2

test-strict: models test-servers
	$(BIN)/python -m pytest -q

# The servers the tests start for real, each in an environment of its own (never in Parley's), run on the pack's own
# files: an OpenAI-compatible speech-to-text server (faster-whisper-server, MIT) and voice server (fastkokoro,
# Apache-2.0). fastkokoro goes in without its Japanese reader, whose dependency builds OpenJTalk from source (and
# which Parley's tests never ask for): its other dependencies are named here.
SERVERS := .venv-servers
FASTKOKORO_DEPS := espeakng-loader fastapi huggingface-hub "misaki[zh]>=0.9.4,<1" numba numpy onnx onnx-ir onnxsim \
	orjson phonemizer-fork pydantic soundfile sympy uvicorn uvloop onnxruntime
test-servers:
	test -x $(SERVERS)/stt/bin/faster-whisper-server || { rm -rf $(SERVERS)/stt && $(PYTHON) -m venv $(SERVERS)/stt \
	  && $(SERVERS)/stt/bin/pip install -q --disable-pip-version-check faster-whisper-server==0.0.3; }
	test -x $(SERVERS)/tts/bin/fastkokoro || { rm -rf $(SERVERS)/tts && $(PYTHON) -m venv $(SERVERS)/tts \
	  && $(SERVERS)/tts/bin/pip install -q --disable-pip-version-check $(FASTKOKORO_DEPS) \
	  && $(SERVERS)/tts/bin/pip install -q --disable-pip-version-check --no-deps fastkokoro==0.7.0; }

test-ui: models
	$(BIN)/python -m pytest -q tests/ui

# The README's screenshots, refreshed: the desktop tests save theirs into docs/screenshots/ (any other run of them
# keeps them in a temporary folder).
screenshots: models
	PARLEY_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -q tests/ui

# The live tests while another program keeps one core fully busy (stress-ng), as on a person's machine.
LIVE_TESTS := tests/test_quit.py tests/test_conversation_live.py tests/test_conversation_devices.py \
	tests/test_conversation_speaker.py tests/test_conversation_turns.py tests/test_conversation_after_replies.py \
	tests/test_wake_word_live.py tests/test_languages_live.py \
	tests/ui/test_app_live.py
test-busy: models
	stress-ng --cpu 1 --timeout 7200s --quiet & busy=$$!; \
	  $(BIN)/python -m pytest -q $(LIVE_TESTS); status=$$?; kill $$busy; wait $$busy 2>/dev/null; exit $$status

doctor: models
	$(BIN)/parley doctor

bench: models test-servers
	$(BIN)/python -m benchmarks

# Live latency through virtual audio devices (brings up its own PulseAudio rig).
bench-realtime: models
	$(BIN)/parley bench realtime --json

# An hour of conversation on the virtual rig (not in CI): hangs, lost turns, memory, threads, descriptors.
soak: models
	$(BIN)/python -m benchmarks.soak --minutes 60

setup: system-packages $(STAMP)

system-packages:
ifeq ($(UNAME),Linux)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "Parley needs these system packages:$$missing"; \
	    echo "Install them with: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi
endif

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Parley needs Python 3.11 or newer: install it, or set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
ifeq ($(UNAME),Linux)
	# The CPU build of torch first, so mlx-whisper and silero-vad don't pull the multi-GB CUDA one.
	$(BIN)/pip install -q torch==2.13.0
endif
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

models: setup
	$(BIN)/parley models setup

clean:
	rm -rf $(VENV) $(SERVERS) .pytest_cache
