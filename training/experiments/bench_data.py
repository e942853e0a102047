"""Data-path benchmarks: ``python -m training.experiments.bench_data PATH [--split train] [--size 200]``.

Measures, each in a fresh empty cache folder (``PNEUMO_CACHE`` set to a temp
dir, removed afterwards):
  - ``pneumo stats PATH --json`` end to end (a new process), cold then warm;
  - the preprocessing-cache build of one split (decode + resize + write), images/s;
  - a warm ``cached_images`` call (memory map) and a full read of its pixels.
Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _stats_cli(path: str, env: dict) -> float:
    script = Path(sys.executable).with_name("pneumo")  # the installed console script
    cmd = [str(script) if script.exists() else "pneumo", "stats", path, "--json"]
    _, seconds = _timed(lambda: subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL))
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--split", default="train")
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="pneumo-bench-")
    os.environ["PNEUMO_CACHE"] = tmp
    env = {**os.environ, "PNEUMO_CACHE": tmp}
    try:
        import numpy as np

        from training.data.cache import cached_images
        from training.data.sources import open_source

        rows = [("pneumo stats --json, cold (empty cache)", f"{_stats_cli(args.path, env):.2f} s", "")]
        rows.append(("pneumo stats --json, warm", f"{_stats_cli(args.path, env):.2f} s", ""))

        source = open_source(args.path)
        records = [r for r in source.records() if r.split == args.split]
        n = len(records)
        built, seconds = _timed(lambda: cached_images(source, records, size=args.size, workers=args.workers))
        rows.append((f"cache build, {args.split} ({n} images) at {args.size}x{args.size}", f"{seconds:.2f} s",
                     f"{n / seconds:.0f} img/s"))
        # Warm figures: best of 3 (the first read after a build may still wait on writeback).
        calls = [_timed(lambda: cached_images(source, records, size=args.size)) for _ in range(3)]
        warm, seconds = min(calls, key=lambda c: c[1])
        rows.append((f"warm cached_images() call ({type(warm.images).__name__}), best of 3",
                     f"{seconds * 1000:.0f} ms", f"{n / seconds:.0f} img/s"))
        seconds = min(_timed(lambda: np.array(cached_images(source, records, size=args.size).images))[1]
                      for _ in range(3))
        mib = warm.images.nbytes / 2**20
        rows.append((f"warm load + read of all pixels ({mib:.0f} MiB), best of 3", f"{seconds * 1000:.0f} ms",
                     f"{n / seconds:.0f} img/s"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    load = os.getloadavg()[0]
    print(f"data: {Path(args.path).resolve()}  cpus: {os.cpu_count()}  workers: {args.workers or os.cpu_count()}"
          f"  load average at the end: {load:.1f}\n")
    print("| what | time | throughput |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
