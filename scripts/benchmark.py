#!/usr/bin/env python3
"""Speed and memory benchmark: measures and prints, asserts nothing (`make bench`).

- NLU parse latency (p50/p95/p99) and throughput of a trained model on the hold-out texts,
  including the messages of the other styles (no diacritics, teencode, long chatty ones);
- resident memory of the loaded model;
- backend service latency on a freshly seeded SQLite database (the calls an action makes);
- optionally (`--train`) the wall time of a full `rasa train` without Rasa's cache.

    python scripts/benchmark.py [--model models/] [--rounds 3] [--train]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    """Peak resident memory of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return (f"p50 {pick(0.50):6.1f} ms   p95 {pick(0.95):6.1f} ms   "
            f"p99 {pick(0.99):6.1f} ms   mean {statistics.fmean(ordered):6.1f} ms")


def latest_model(path: Path) -> Path:
    if path.is_file():
        return path
    models = sorted(path.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit(f"No trained model in {path}: run `make train` first.")
    return models[-1]


def bench_nlu(model: Path, rounds: int) -> None:
    from rasa.core.agent import Agent

    from bot.nlu.evaluate import load_examples

    before = rss_mb()
    started = time.perf_counter()
    agent = Agent.load(str(model))
    load_s = time.perf_counter() - started
    texts = [e.text for e in load_examples(ROOT / "tests" / "nlu" / "holdout.yml")]
    texts += ["", "😀😀😀", "?" * 3, "xin chào " * 250]  # bad input is measured too

    async def run() -> list[float]:
        samples = []
        for text in texts[:20]:  # warm-up
            await agent.parse_message(text)
        for _ in range(rounds):
            for text in texts:
                t0 = time.perf_counter()
                await agent.parse_message(text)
                samples.append((time.perf_counter() - t0) * 1000)
        return samples

    samples = asyncio.run(run())
    total_s = sum(samples) / 1000
    print(f"model            {model.relative_to(ROOT) if model.is_relative_to(ROOT) else model}")
    print(f"load time        {load_s:6.1f} s")
    print(f"memory           {rss_mb():6.0f} MiB peak RSS "
          f"({rss_mb() - before:+.0f} MiB for the model)")
    print(f"parse latency    {percentiles(samples)}   ({len(samples)} messages)")
    print(f"parse throughput {len(samples) / total_s:6.0f} messages/s on one core")


def bench_backend(rounds: int) -> None:
    from bot.backend import Backend
    from bot.backend.seed import seed
    from bot.database import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        backend = Backend(url)
        t0 = time.perf_counter()
        seed(backend)
        print(f"seed             {(time.perf_counter() - t0) * 1000:6.0f} ms (204 subscribers)")
        calls: dict[str, Callable[[], object]] = {
            "masked_profile": lambda: backend.subscribers.masked_profile("0901000002"),
            "decree49_status": lambda: backend.subscribers.decree49_status("0901000002"),
            "active_subscriptions": lambda: backend.vas.active_subscriptions("0901000001"),
            "find_stores('q3')": lambda: backend.shops.find("q3"),
            "find_stores('ha noi')": lambda: backend.shops.find("ha noi"),
            "balance+topups": lambda: (backend.account.balance("0901000015"),
                                       backend.account.topups("0901000015")),
        }
        for name, call in calls.items():
            samples = []
            for _ in range(rounds * 50):
                t0 = time.perf_counter()
                call()
                samples.append((time.perf_counter() - t0) * 1000)
            print(f"backend {name:<22} {percentiles(samples)}")
        backend.dispose()


def bench_train() -> None:
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        env["RASA_CACHE_DIRECTORY"] = cache
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "rasa", "train", "--config", "config.yml",
                        "--domain", "domain.yml", "--data", "data", "--out", out, "--force"],
                       cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        print(f"full training    {time.perf_counter() - t0:6.0f} s (NLU + dialogue, no cache, "
              f"{os.cpu_count()} cores; budget 300 s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models"),
                        help="a model .tar.gz or a folder of models (latest is used)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--train", action="store_true", help="also time a full training")
    args = parser.parse_args(argv)
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    logging.disable(logging.WARNING)
    print("== NLU")
    bench_nlu(latest_model(Path(args.model)), args.rounds)
    print("== Backend (SQLite)")
    bench_backend(args.rounds)
    if args.train:
        print("== Training")
        bench_train()
    return 0


if __name__ == "__main__":
    sys.exit(main())
