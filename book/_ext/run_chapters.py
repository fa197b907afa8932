"""Execute chapters outside Sphinx and report how long each takes (``make figures``).

Each chapter (a MyST notebook in ``book/``) is read with jupytext and executed afresh with
nbclient in its own folder, which writes its figures to ``figures/``.  The table of execution
times is printed and saved to ``_build/chapter_times.json``.  A failing chapter stops the run
with a non-zero exit status.

Usage: ``python book/_ext/run_chapters.py [book/01_optimal_transport.md ...]``
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]


def chapters(args: list[str]) -> list[Path]:
    if args:
        return [Path(a).resolve() for a in args]
    return sorted((ROOT / "book").glob("[0-9][0-9]_*.md"))


def main(argv: list[str]) -> int:
    times = {}
    for path in chapters(argv):
        nb = jupytext.read(path)
        start = time.perf_counter()
        NotebookClient(
            nb,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
        times[path.stem] = round(time.perf_counter() - start, 1)
        print(f"{path.stem:40s} {times[path.stem]:7.1f} s", flush=True)
    out = ROOT / "_build" / "chapter_times.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(times, indent=2) + "\n")
    print(f"{'total':40s} {sum(times.values()):7.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
