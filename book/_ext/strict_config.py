"""Write the configuration of the strict build: ``_config.yml`` with forced execution.

jupyter-cache keys on code cells only, so a cached chapter would not notice a change in
``wgf/``; the strict build of ``make test`` therefore executes every chapter afresh
(``execute_notebooks: force``).  Paths in ``sphinx.local_extensions`` are resolved relative to
the configuration file, so they are made absolute for the copy written under ``_build/``.

Usage: ``python book/_ext/strict_config.py OUTPUT``
"""

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def main(out: str) -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "force"
    local = config.get("sphinx", {}).get("local_extensions") or {}
    for name, path in local.items():
        local[name] = str((ROOT / path).resolve())
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(yaml.safe_dump(config, sort_keys=False))


if __name__ == "__main__":
    main(sys.argv[1])
