"""The names of the files in a model's store folder, by format: the importers write them there, and the stages
that run the models read them (so that reading a model needs nothing of the importers)."""

# A Whisper model imported from faster-whisper keeps the original CTranslate2 files in this subfolder, which
# faster-whisper runs (transcribe/ct2_engine.py); its converted MLX weights are in the folder itself.
CT2_FOLDER = "ct2"
# Silero VAD (listen/voice_activity.py)
VAD_FILE = "silero_vad.onnx"
# Smart Turn v3, the end-of-turn model (listen/smart_turn.py)
TURN_FILE = "smart_turn.onnx"
# A Piper voice: its ONNX model and, beside it, its config (speak/voice.py)
PIPER_VOICE_FILE = "voice.onnx"
PIPER_CONFIG_FILE = "voice.onnx.json"
# A Kokoro voice: its ONNX model, its phoneme table and its voice styles (speak/kokoro_voice.py)
KOKORO_MODEL_FILE = "model.onnx"
KOKORO_VOCAB_FILE = "vocab.json"
KOKORO_STYLES_FILE = "voices.npz"
