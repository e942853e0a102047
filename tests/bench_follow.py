"""Benchmarks of the app while it follows a live training (not a test; run by hand).

    .venv/bin/python tests/bench_follow.py [--epochs 6] [--per-class 40] [--repeats 2] [--out bench-app.json]

1. Key press to screen update while following a run that ``pneumo train`` is
   writing: ``pneumo tui --attach RUN`` runs in a pseudo-terminal at 120x40
   with its normal 1 s polling; for each key we time from writing its byte to
   the last byte of the screen update the app writes back.
2. Training throughput with and without the app following: the same recipe is
   trained headless, and again while ``pneumo tui --attach RUN`` runs in a
   detached 120x40 tmux session (a real terminal); images/s are the trainer's
   own epoch figures (mean over epochs after the first).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pneumo_tui.launch import TrainSettings, start_training  # noqa: E402
from training.events import read_events  # noqa: E402
from training.runstore import RunPaths  # noqa: E402

# Keys that each change the screen: log scale, next chart, to Runs, smoothing, metric, back to Train.
KEYS = [b"l", b"l", b"v", b"3", b"]", b"[", b"m", b"2"]


def train_settings(data: Path, runs: Path, epochs: int) -> TrainSettings:
    return TrainSettings("cnn3", data, runs, epochs=epochs, image_size=64, overrides={"batch_size": "16"})


def wait_finished(run: Path, timeout: float = 900) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = read_events(RunPaths(run).events)
        if events and events[-1]["event"] in ("run_finished", "run_failed"):
            return events
        time.sleep(0.5)
    raise TimeoutError(f"{run} did not finish")


def images_per_s(events: list[dict]) -> float:
    rates = [e["images_per_s"] for e in events if e["event"] == "epoch"][1:]  # epoch 1 warms up caches
    return statistics.mean(rates)


def key_latencies(run: Path, runs: Path, rounds: int) -> list[tuple[str, float]]:
    """Key press to screen update, as a terminal sees it.

    The app runs in a pseudo-terminal (120x40) like under ssh/tmux; we write a
    key's bytes and time until the last byte of the screen update it causes
    (output then pauses for QUIET seconds). Pauses between keys let the app's
    1 s polling interleave as it would with a user.
    """
    import fcntl
    import pty  # noqa: F401  (POSIX only)
    import select
    import struct
    import termios

    quiet = 0.05
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "pneumo"), "tui", "--runs", str(runs), "--attach", str(run),
                             "--image-protocol", "none"], stdin=slave, stdout=slave, stderr=slave,
                            env={**os.environ, "TERM": "xterm-256color"}, start_new_session=True)
    os.close(slave)

    def drain(wait: float, limit: float) -> float | None:
        last, end = None, time.perf_counter() + limit
        while time.perf_counter() < end:
            ready, _, _ = select.select([master], [], [], wait)
            if not ready:
                if last is not None:
                    break
                continue
            if not os.read(master, 1 << 16):
                break
            last = time.perf_counter()
        return last

    out = []
    try:
        drain(1.0, 20)  # start-up
        for _ in range(rounds):
            for key in KEYS:
                time.sleep(0.3)
                drain(0.01, 0.02)
                sent = time.perf_counter()
                os.write(master, key)
                last = drain(quiet, 3)
                if last is not None:
                    out.append((key.decode(), (last - sent) * 1000))
    finally:
        os.write(master, b"q")
        time.sleep(0.3)
        proc.kill()
        proc.wait()
        os.close(master)
    return out


def follow_in_tmux(run: Path, runs: Path) -> str | None:
    if shutil.which("tmux") is None:
        return None
    session = f"pneumo-bench-{os.getpid()}"
    pneumo = REPO / ".venv" / "bin" / "pneumo"
    subprocess.run(["tmux", "-L", session, "new", "-d", "-s", session, "-x", "120", "-y", "40",
                    f"{pneumo} tui --runs {runs} --attach {run} --image-protocol halfcell"], check=True)
    return session


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--latency-only", action="store_true")
    parser.add_argument("--light-writer", action="store_true",
                        help="latency while tests/app_run_writer.py (20 events/s, no torch) writes the run: the app's own cost")
    args = parser.parse_args()

    from training.demo import write_demo

    work = Path(tempfile.mkdtemp(prefix="pneumo-bench-"))
    os.environ["PNEUMO_CACHE"] = str(work / "cache")
    data = write_demo(work / "demo", per_class=args.per_class, size=96)
    runs = work / "runs"
    result: dict = {"machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
                    "recipe": "cnn3, 64 px, batch 16, synthetic demo set", "epochs": args.epochs}

    # 1. latency while following a live training
    if args.light_writer:
        from pneumo_tui.launch import launch

        writer = [sys.executable, str(REPO / "tests" / "app_run_writer.py")]
        launched = launch([str(runs), "--interval", "0.05", "--steps", "600"], runs, program=writer)
        result["writer"] = "tests/app_run_writer.py, 20 events/s"
    else:
        launched = start_training(train_settings(data, runs, max(args.epochs, 8)))
        result["writer"] = "pneumo train (both cores busy)"
    run = launched.wait_for_run_dir(timeout=120)
    per_key = key_latencies(run, runs, rounds=4)
    wait_finished(run)
    lat = sorted(ms for _, ms in per_key)
    result["key_latency_ms"] = {"n": len(lat), "median": round(statistics.median(lat), 1),
                                "p95": round(lat[int(0.95 * (len(lat) - 1))], 1), "max": round(lat[-1], 1),
                                "median_per_key": {k: round(statistics.median(ms for kk, ms in per_key if kk == k), 1)
                                                   for k in dict.fromkeys(k for k, _ in per_key)}}

    # 2. throughput, headless vs followed in tmux, alternating to spread machine noise
    headless, followed = [], []
    for _ in range(0 if args.latency_only else args.repeats):
        for mode in ("headless", "followed"):
            launched = start_training(train_settings(data, runs, args.epochs))
            run = launched.wait_for_run_dir(timeout=120)
            session = follow_in_tmux(run, runs) if mode == "followed" else None
            try:
                rate = images_per_s(wait_finished(run))
            finally:
                if session:
                    subprocess.run(["tmux", "-L", session, "kill-server"], check=False)
            (headless if mode == "headless" else followed).append(rate)
    if headless:
        result["images_per_s"] = {
            "headless": [round(r, 1) for r in headless],
            "followed_in_tmux": [round(r, 1) for r in followed],
            "ratio": round(statistics.mean(followed) / statistics.mean(headless), 3),
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
