"""`make bench`: every benchmark, each printing its figures as JSON."""

import platform

from benchmarks import blas, chat, idle, languages, models, stt, turn

print(f"# {platform.platform()}, {platform.processor() or platform.machine()}")
blas.main()
models.main()
chat.main(as_json=True)
stt.main()
turn.main()
idle.main()
languages.main()
