"""`make bench`: every benchmark, each printing its figures as JSON."""

import platform

from benchmarks import blas, chat, idle, languages, models, servers, stt, tools, turn, wake_word, whole_turn

print(f"# {platform.platform()}, {platform.processor() or platform.machine()}")
blas.main()
models.main()
chat.main(as_json=True)
stt.main()
turn.main()
whole_turn.main()  # parley reply against a seed-style stack of the same parts
idle.main()
languages.main()
servers.main()  # the speech-to-text and voice servers against the same engines here
tools.main(as_json=True)  # the tools chosen right, and how fast they are said, on the default and the 1.5B model
wake_word.main(hours=0.25)  # (README: a 10-hour run, python -m benchmarks.wake_word --hours 10)
