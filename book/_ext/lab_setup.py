"""Prepare JupyterLab for the book (``make lab``): a kernel and jupytext as the chapters' viewer.

1. Registers a Jupyter kernel named ``wgf`` ("Python (wgf)") for the current user: this
   environment's Python, with ``WGF_CACHE_DIR`` set to the model cache of the checkout, so any
   Jupyter on the machine -- not only the one ``make lab`` starts -- runs the chapters with ``wgf``
   and loads the trained models instead of retraining them.
2. Makes jupytext's notebook view the default for Markdown and MyST files in this environment's
   JupyterLab (``share/jupyter/lab/settings/overrides.json``), so double-clicking a chapter
   ``book/NN_*.md`` opens it as a notebook; saving writes the Markdown back.

Usage: ``python book/_ext/lab_setup.py``; ``WGF_CACHE_DIR`` (set by the Makefile) is the cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VIEWERS = {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}
SETTING = "@jupyterlab/docmanager-extension:plugin"


def register_kernel(cache: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--user", "--name", "wgf",
         "--display-name", "Python (wgf)", "--env", "WGF_CACHE_DIR", cache],
        check=True,
    )  # fmt: skip


def set_default_viewer(prefix: Path) -> Path:
    path = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    overrides = json.loads(path.read_text()) if path.is_file() else {}
    viewers = overrides.setdefault(SETTING, {}).setdefault("defaultViewers", {})
    viewers.update(VIEWERS)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(overrides, indent=2) + "\n")
    return path


def main() -> int:
    cache = os.environ.get("WGF_CACHE_DIR") or str(ROOT / ".cache" / "zoo")
    register_kernel(cache)
    path = set_default_viewer(Path(sys.prefix))
    print(f"kernel 'wgf' registered (WGF_CACHE_DIR={cache}); chapters open as notebooks ({path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
