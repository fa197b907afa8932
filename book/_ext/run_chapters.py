"""Execute chapters as notebooks, outside the book build (``make figures``, ``make notebooks``).

Each chapter (a MyST notebook in ``book/``) is read with jupytext and executed afresh with
nbclient in a fresh kernel in ``book/``, as JupyterLab would run it: the book-build marker
``WGF_BOOK_BUILD`` is unset, so ``wgf.plot.publish`` displays every figure, and the figures are
written to ``figures/`` at the root of the checkout (``WGF_FIGURES_DIR``).  With
``--notebooks DIR`` each executed notebook is also written to ``DIR/<chapter>.ipynb``, with every
glued number and figure shown as an ordinary output (``nbreadable.py``).  The table of
execution times is printed and saved to ``_build/chapter_times.json``.  A failing chapter stops
the run with a non-zero exit status.

Usage: ``python book/_ext/run_chapters.py [--notebooks DIR] [book/08_flow_matching.md ...]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbreadable import readable

ROOT = Path(__file__).resolve().parents[2]


def chapters(args: list[str]) -> list[Path]:
    if args:
        return [Path(a).resolve() for a in args]
    return sorted((ROOT / "book").glob("[0-9][0-9]_*.md"))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapter files (default: every chapter)")
    parser.add_argument("--notebooks", type=Path, help="write executed notebooks here")
    args = parser.parse_args(argv)
    os.environ.pop("WGF_BOOK_BUILD", None)
    os.environ.setdefault("WGF_FIGURES_DIR", str(ROOT / "figures"))
    if args.notebooks:
        args.notebooks.mkdir(parents=True, exist_ok=True)
    times = {}
    for path in chapters(args.chapters):
        if not path.is_file():
            print(f"no such chapter: {path}", file=sys.stderr)
            return 2
        nb = jupytext.read(path)
        start = time.perf_counter()
        NotebookClient(
            nb,
            timeout=1800,  # per cell, as in _config.yml: a hang guard only
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
        times[path.stem] = round(time.perf_counter() - start, 1)
        if args.notebooks:
            nbformat.write(readable(nb), args.notebooks / f"{path.stem}.ipynb")
        print(f"{path.stem:40s} {times[path.stem]:7.1f} s", flush=True)
    out = ROOT / "_build" / "chapter_times.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(times, indent=2) + "\n")
    print(f"{'total':40s} {sum(times.values()):7.1f} s")
    if args.notebooks:
        print(f"notebooks in {args.notebooks}/; figures in {os.environ['WGF_FIGURES_DIR']}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
