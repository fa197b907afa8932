"""``make bench``: training throughput under contention, and the chapter times of the last build.

(a) For each family of zoo models (DDPM, NCSN, flow matching, Energy Matching) a short training
run on ``eight_gaussians`` is timed three ways in one process: on an idle machine under the
package's thread policy (:mod:`wgf.threads`), with one competing CPU-bound process (started
and stopped by this script) under the same policy, and with that competitor under torch's
default thread count, the configuration the policy replaces.  The ratio contended / idle is
the figure of merit (target: ≥ 0.8).

(b) Independent tasks side by side (:func:`wgf.threads.workers`): a batch of exact W2 problems
(:func:`wgf.ot.w2_many`) and two trainings (:func:`wgf.zoo.get_many`), each timed with one
worker and with the usable cores, idle and beside the competitor; the figure of merit is the
speed-up (at most the number of cores).

(c) Kernels: the gradient of a scalar potential (Energy Matching's Langevin drift) by autograd
and by the written-out backward pass of :meth:`wgf.nets.ScalarPotential.grad` (the same value to
the last bit), in milliseconds per call.

(d) The execution time of every chapter in the last book build (``_build/timings.json``,
written by ``book/_ext/budgets.py``) against its budget.

Budgets are performance goals, reported here; the strict build does not fail on them.
Usage: ``python benchmarks/bench.py [--repeats 3] [--no-train] [--no-parallel] [--no-kernels]
[--no-chapters]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A few hundred optimiser steps per family: long enough to time, short enough for a benchmark.
FAMILIES = {
    "ddpm": ("ddpm", {"steps": 300}, 300),
    "ncsn": ("ncsn", {"steps": 300}, 300),
    "flow matching (OT-CFM)": ("ot_cfm", {"steps": 300}, 300),
    "energy matching": ("energy_matching", {"phase1_steps": 200, "phase2_steps": 40}, 240),
}


def _steps_per_second(name: str, overrides: dict, steps: int, repeats: int) -> float:
    from wgf import zoo

    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        zoo.get(name, "eight_gaussians", retrain=True, progress=False, **overrides)
        best = max(best, steps / (time.perf_counter() - start))
    return best


class _Competitor:
    """One other CPU-bound process (``while True: pass``) for the duration of a block."""

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def bench_training(repeats: int) -> list[dict]:
    import torch

    from wgf import threads

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WGF_CACHE_DIR"] = tmp
        for label, (name, overrides, steps) in FAMILIES.items():
            _steps_per_second(name, overrides, steps, 1)  # warm-up (imports, allocator)
            threads.configure(None)
            idle = _steps_per_second(name, overrides, steps, repeats)
            with _Competitor():
                contended = _steps_per_second(name, overrides, steps, repeats)
                threads.configure(threads._BASELINE)
                default = _steps_per_second(name, overrides, steps, repeats)
                threads.configure(None)
            rows.append(
                {
                    "family": label,
                    "idle": idle,
                    "contended": contended,
                    "ratio": contended / idle,
                    "default_threads": threads._BASELINE,
                    "contended_default": default,
                    "ratio_default": default / idle,
                }
            )
            print(
                f"  {label:24s} idle {idle:7.0f}/s  contended {contended:7.0f}/s "
                f"({contended / idle:4.2f})  torch default {default:7.0f}/s ({default / idle:4.2f})",
                flush=True,
            )
    del torch
    return rows


def _timed(func, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def bench_parallel(repeats: int) -> list[dict]:
    from wgf import data, threads, zoo
    from wgf import ot as wot

    k = threads.workers()
    mix = data.eight_gaussians()
    pairs = [(mix.sample(2000, 2 * i), mix.sample(2000, 2 * i + 1)) for i in range(8)]
    requests = [("ot_cfm", "eight_gaussians", s, {"steps": 3000}) for s in (0, 1)]

    def train(workers):
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["WGF_CACHE_DIR"] = tmp
            zoo.clear_memory()
            zoo.get_many(requests, workers=workers, progress=False)

    tasks = {
        "exact W2, 8 pairs of 2000 points": lambda w: wot.w2_many(pairs, workers=w),
        "training, 2 OT-CFM models (3000 steps)": train,
    }
    rows = []
    for label, task in tasks.items():
        task(1)  # warm-up
        row = {"task": label, "workers": k}
        for load in ("idle", "contended"):
            with _Competitor() if load == "contended" else _Nothing():
                one = _timed(lambda task=task: task(1), repeats)
                many = _timed(lambda task=task: task(k), repeats)
            row[load] = {"one_worker_s": one, "workers_s": many, "speedup": one / many}
        rows.append(row)
        print(
            f"  {label:40s} idle {row['idle']['one_worker_s']:6.1f} s -> "
            f"{row['idle']['workers_s']:6.1f} s ({row['idle']['speedup']:4.2f}x); beside a busy "
            f"process {row['contended']['one_worker_s']:6.1f} s -> "
            f"{row['contended']['workers_s']:6.1f} s ({row['contended']['speedup']:4.2f}x)",
            flush=True,
        )
    return rows


def bench_kernels(repeats: int) -> list[dict]:
    import torch

    from wgf import nets, threads

    with nets.seeded(0):
        pot = nets.ScalarPotential(2, 128, 3)
    rows = []
    with threads.policy(pot):
        for n in (128, 4000):
            x = torch.randn(n, 2)
            calls = max(20, 256_000 // n)

            def loop(f, x=x, calls=calls):
                for _ in range(calls):
                    f(x)

            auto = _timed(lambda: loop(functools.partial(nets.gradient, pot)), repeats) / calls
            fast = _timed(lambda: loop(pot.grad), repeats) / calls
            rows.append({"points": n, "autograd_ms": 1e3 * auto, "written_out_ms": 1e3 * fast})
            print(
                f"  potential gradient, {n:5d} points: autograd {1e3 * auto:7.3f} ms, "
                f"written out {1e3 * fast:7.3f} ms ({auto / fast:4.2f}x)",
                flush=True,
            )
    return rows


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def chapter_table() -> list[dict]:
    path = ROOT / "_build" / "timings.json"
    if not path.exists():
        print(f"no {path.relative_to(ROOT)}: build the book first (make book or make test)")
        return []
    record = json.loads(path.read_text())
    rows = []
    for doc, row in sorted(record.get("chapters", {}).items()):
        rows.append({"chapter": doc, **row})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("--no-parallel", action="store_true")
    parser.add_argument("--no-kernels", action="store_true")
    parser.add_argument("--no-chapters", action="store_true")
    args = parser.parse_args(argv)
    out = {"cores": os.cpu_count()}
    if not args.no_train:
        print(f"(a) training throughput, steps/s (best of {args.repeats}; {os.cpu_count()} cores)")
        out["training"] = bench_training(args.repeats)
        worst = min(r["ratio"] for r in out["training"])
        print(f"  worst contended/idle ratio under the policy: {worst:.2f} (target >= 0.80)")
    if not args.no_parallel:
        from wgf import threads

        print(f"(b) independent tasks, one worker vs {threads.workers()} (best of {args.repeats})")
        out["parallel"] = bench_parallel(args.repeats)
    if not args.no_kernels:
        print(f"(c) kernels (best of {args.repeats})")
        out["kernels"] = bench_kernels(args.repeats)
    if not args.no_chapters:
        rows = chapter_table()
        out["chapters"] = rows
        if rows:
            print("(d) chapter execution times of the last build")
            print(f"  {'chapter':34s} {'time (s)':>9s} {'budget (s)':>11s} {'share':>6s}")
            for r in rows:
                share = r["runtime_s"] / r["budget_s"]
                flag = "  over budget" if share > 1 else ""
                print(
                    f"  {r['chapter']:34s} {r['runtime_s']:9.1f} {r['budget_s']:11.0f} "
                    f"{share:6.2f}{flag}"
                )
            print(f"  {'total':34s} {sum(r['runtime_s'] for r in rows):9.1f}")
    dest = ROOT / "_build" / "bench.json"
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written to {dest.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
