"""Both channels in one run: encode throughput per batch size and search p50/p95 at 10k and 100k.

    python benchmarks/bench_channels.py [--quick]

Runs bench_text_channel.py (Qdrant Edge hybrid vs qdrant-client local mode as the baseline) and then
bench_image_channel.py (FAISS HNSW vs exact flat search as the baseline; open_clip pipeline vs a bare
`model.encode_image` loop). `--quick` uses 10k points only, for a smoke run. Other arguments (`--results-dir`,
`--label`, ...) go to both; each writes its own result file (kinds text-channel and image-channel).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    rest = [a for a in sys.argv[1:] if a != "--quick"]
    text = [sys.executable, str(HERE / "bench_text_channel.py"), *rest]
    image = [sys.executable, str(HERE / "bench_image_channel.py"), *rest]
    if quick:
        text += ["--sizes", "10000", "--encode-texts", "64"]
        image += ["--sizes", "10000", "--images", "16"]
    print("== text channel ==", flush=True)
    rc = subprocess.call(text)
    print("\n== image channel ==", flush=True)
    return rc or subprocess.call(image)


if __name__ == "__main__":
    raise SystemExit(main())
