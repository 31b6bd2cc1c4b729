"""Float32 matrix products in MLX with the BLAS Parley picks, against MLX's bundled reference BLAS.

Each measurement runs in a fresh process, because the BLAS is chosen before mlx is imported.
Shape 1500x1536 @ 1536x384 is one of Whisper tiny's encoder projections over a 30 s window.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

_PROBE = """
import json, time
import assistant
from assistant.runtime.blas import active_blas
import mlx.core as mx
a = mx.random.normal((1500, 1536)); b = mx.random.normal((1536, 384)); mx.eval(a, b)
times = []
for _ in range(7):
    start = time.perf_counter(); mx.eval(a @ b); times.append(time.perf_counter() - start)
times.sort()
print(json.dumps({"blas": active_blas().library, "median_ms": 1000 * times[len(times) // 2]}))
"""


def measure(reference: bool) -> dict:
    env = dict(os.environ)
    if reference:
        env["PARLEY_BLAS"] = "reference"
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> dict:
    chosen = measure(reference=False)
    bundled = measure(reference=True)
    result = {
        "matmul_1500x1536x384_ms": {"parley": round(chosen["median_ms"], 2), "bundled": round(bundled["median_ms"], 2)},
        "blas": {"parley": chosen["blas"], "bundled": bundled["blas"]},
        "speedup": round(bundled["median_ms"] / chosen["median_ms"], 1),
    }
    print(json.dumps({"blas": result}, indent=2))
    return result


if __name__ == "__main__":
    main()
