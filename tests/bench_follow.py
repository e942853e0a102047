"""Benchmarks of the app while it follows a live training (not a test; run by hand).

    .venv/bin/python tests/bench_follow.py [--model cnn3] [--image-size 64] [--batch 16]
        [--epochs 4] [--per-class 120] [--repeats 2] [--latency-only] [--light-writer] [--out FILE.json]

The app runs as users run it, ``pneumo tui --attach RUN`` in a terminal: here a
pseudo-terminal of 120x40 whose output a thread reads and drops, as a terminal
emulator would (POSIX only).

1. Key press to screen update while following a run that ``pneumo train``
   writes (or, with --light-writer, tests/app_run_writer.py: the app's own cost
   without a trainer competing for the CPU): for each key, the time from
   writing its byte to the last byte of the screen update the app writes back.
2. Training throughput with and without the app following: the same recipe is
   trained alone, then while the app follows it, alternately; images/s are the
   trainer's own epoch figures (mean over the epochs after the first), and the
   app's CPU use while following (share of one core, from /proc).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pneumo_tui.launch import TrainSettings, launch, pneumo_command, start_training  # noqa: E402
from training.run.events import read_events  # noqa: E402
from training.run.paths import RunPaths  # noqa: E402

# Keys that each change the screen: log scale, next chart, to Runs, smoothing, metric, the settings view on and
# off, the config diff on and off, the filter box opened and closed with Enter, back to Train.
KEYS = [b"l", b"l", b"v", b"3", b"]", b"[", b"m", b"p", b"p", b"f", b"f", b"/", b"\r", b"2"]


class AppInPty:
    """``pneumo tui --attach RUN`` in a 120x40 pseudo-terminal."""

    def __init__(self, run: Path, runs: Path):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.proc = subprocess.Popen(
            pneumo_command() + ["tui", "--runs", str(runs), "--attach", str(run), "--image-protocol", "none"],
            stdin=slave, stdout=slave, stderr=slave, env={**os.environ, "TERM": "xterm-256color"},
            start_new_session=True,
        )
        os.close(slave)
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()

    def drain(self, wait: float, limit: float) -> float | None:
        """Read until ``wait`` s pass without output; the time of the last byte read (None if none came)."""
        last, end = None, time.perf_counter() + limit
        while time.perf_counter() < end:
            ready, _, _ = select.select([self.master], [], [], wait)
            if not ready:
                if last is not None:
                    break
                continue
            try:
                if not os.read(self.master, 1 << 16):
                    break
            except OSError:
                break
            last = time.perf_counter()
        return last

    def read_in_background(self) -> None:
        """Be the terminal: keep reading so the app never blocks on a full pty."""
        def loop():
            while not self._stop.is_set():
                self.drain(0.2, 0.5)

        self._reader = threading.Thread(target=loop, daemon=True)
        self._reader.start()

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self._stop.set()
        if self._reader:
            self._reader.join()
        try:
            os.write(self.master, b"q")
        except OSError:
            pass
        time.sleep(0.3)
        self.proc.kill()
        self.proc.wait()
        os.close(self.master)


def wait_finished(run: Path, timeout: float = 1800) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = read_events(RunPaths(run).events)
        if events and events[-1]["event"] in ("run_finished", "run_failed"):
            return events
        time.sleep(0.2)
    raise TimeoutError(f"{run} did not finish")


def images_per_s(events: list[dict]) -> float:
    if events[-1]["event"] == "run_failed":
        raise RuntimeError(events[-1].get("error"))
    rates = [e["images_per_s"] for e in events if e["event"] == "epoch"][1:]  # epoch 1 warms up caches
    return statistics.mean(rates)


def key_latencies(run: Path, runs: Path, rounds: int) -> list[tuple[str, float]]:
    app = AppInPty(run, runs)
    out = []
    try:
        app.drain(1.0, 30)  # start-up
        for _ in range(rounds):
            for key in KEYS:
                time.sleep(0.3)  # let the 1 s polling interleave, as with a user typing
                app.drain(0.01, 0.02)
                sent = time.perf_counter()
                os.write(app.master, key)
                last = app.drain(0.05, 3)
                if last is not None:
                    out.append((key.decode(), (last - sent) * 1000))
    finally:
        app.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="cnn3")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--per-class", type=int, default=120)
    parser.add_argument("--demo-size", type=int, default=96, help="side of the synthetic images written")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--writer-interval", type=float, default=0.05, help="seconds between the light writer's steps")
    parser.add_argument("--latency-epochs", type=int, default=8, help="long enough to outlast the key presses")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--latency-only", action="store_true")
    parser.add_argument("--light-writer", action="store_true",
                        help="latency while tests/app_run_writer.py (20 events/s, no torch) writes the run")
    args = parser.parse_args()

    from training.data.demo import write_demo

    work = Path(tempfile.mkdtemp(prefix="pneumo-bench-"))
    os.environ["PNEUMO_CACHE"] = str(work / "cache")
    data = write_demo(work / "demo", per_class=args.per_class, size=args.demo_size)
    runs = work / "runs"

    def settings(epochs: int) -> TrainSettings:
        return TrainSettings(args.model, data, runs, epochs=epochs, image_size=args.image_size,
                             overrides={"batch_size": str(args.batch)})

    result: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "recipe": f"{args.model}, {args.image_size} px, batch {args.batch}, "
                  f"synthetic demo set ({2 * args.per_class} train images)",
    }

    # 1. latency while following a live run
    if args.light_writer:
        writer = [sys.executable, str(REPO / "tests" / "app_run_writer.py")]
        steps = int(40 / args.writer_interval)  # enough to outlast the key presses
        launched = launch([str(runs), "--interval", str(args.writer_interval), "--steps", str(steps)], runs,
                          program=writer)
        result["writer"] = f"tests/app_run_writer.py, {1 / args.writer_interval:.0f} steps/s"
    else:
        launched = start_training(settings(args.latency_epochs))
        result["writer"] = "pneumo train"
    run = launched.wait_for_run_dir(timeout=300)
    if run is None:
        raise SystemExit(f"no run folder: {launched.log_tail()}")
    per_key = key_latencies(run, runs, rounds=4)
    wait_finished(run)
    lat = sorted(ms for _, ms in per_key)
    result["key_latency_ms"] = {
        "n": len(lat), "median": round(statistics.median(lat), 1),
        "p95": round(lat[int(0.95 * (len(lat) - 1))], 1), "max": round(lat[-1], 1),
        "median_per_key": {k: round(statistics.median(ms for kk, ms in per_key if kk == k), 1)
                           for k in dict.fromkeys(k for k, _ in per_key)},
    }

    # 2. throughput alone vs followed, alternating to spread machine noise
    alone, followed, app_cpu = [], [], []
    for _ in range(0 if args.latency_only else args.repeats):
        for mode in ("alone", "followed"):
            launched = start_training(settings(args.epochs))
            run = launched.wait_for_run_dir(timeout=300)
            app = None
            if mode == "followed":
                app = AppInPty(run, runs)
                app.read_in_background()
                time.sleep(3)  # past the app's start-up
                cpu0, wall0 = app.cpu_seconds(), time.monotonic()
            try:
                rate = images_per_s(wait_finished(run))
                if app:
                    app_cpu.append((app.cpu_seconds() - cpu0) / (time.monotonic() - wall0))
            finally:
                if app:
                    app.close()
            (alone if mode == "alone" else followed).append(rate)
    if alone:
        result["images_per_s"] = {
            "alone": [round(r, 1) for r in alone],
            "followed": [round(r, 1) for r in followed],
            "ratio": round(statistics.mean(followed) / statistics.mean(alone), 3),
            "app_cpu_share_of_one_core": [round(c, 3) for c in app_cpu],
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
