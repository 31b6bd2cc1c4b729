"""Text shaping for the voice: split streamed chat replies into speakable chunks and clean them for Piper.

Pure Python (stdlib only), no Qt, no audio: `segmenter` decides *when* a piece of the reply can be spoken (by the
rules of `cuts`), `cleanup` decides *what* the voice says for it.
"""
