"""Every pin in constraints.txt is a public release that the public package index carries.

A local version label (``torch==2.13.0+cpu``) resolves only on machines whose pip configuration
adds a folder of local wheels; everywhere else ``pip install -c constraints.txt`` fails.  This
test asks pip's default public index (pip's own configuration and environment ignored, as
with ``--isolated``; no downloads) for every pinned name; it is skipped, saying so, when no
index can be reached.  It reads the index's JSON listing of each project (a few kB each, in
parallel) instead of starting ``pip index versions NAME --isolated`` a hundred times.
"""

from __future__ import annotations

import json
import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        m = PIN.match(line.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


def test_constraints_are_exact_public_versions():
    found = pins()
    assert len(found) > 20, "constraints.txt lists too few pins"
    local = {name: v for name, v in found.items() if "+" in v}
    assert not local, f"local version labels are not on the public index: {local}"
    assert found.get("torch") == "2.13.0"


def test_environment_and_makefile_use_public_pins():
    for name in ("environment.yml", "Makefile"):
        text = (ROOT / name).read_text()
        assert "+cpu" not in text, f"{name} names a local version label"


def _index_url() -> str:
    """The public index pip uses when its configuration is ignored (pip's own default)."""
    from pip._internal.models.index import PyPI

    return PyPI.simple_url


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _index_versions(name: str) -> tuple[str, set[Version] | None, str]:
    """Versions of ``name`` on the public index (the JSON simple API, PEP 691/700)."""
    url = f"{_index_url().rstrip('/')}/{_normalise(name)}/"
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            payload = json.load(response)
    except (OSError, ValueError) as err:  # URLError, HTTPError, timeouts, bad JSON
        return name, None, str(err)
    versions = set()
    for raw in payload.get("versions", []):
        try:
            versions.add(Version(raw))
        except InvalidVersion:
            continue
    return name, versions, ""


def test_every_pin_exists_on_the_public_index():
    probe = _index_versions("pip")
    if not probe[1]:
        pytest.skip(f"no package index reachable ({probe[2]}); pins not checked against it")
    found = pins()
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(_index_versions, sorted(found)))
    missing = {
        name: found[name]
        for name, versions, _ in answers
        if versions is not None and Version(found[name]) not in versions
    }
    unanswered = {name: why for name, versions, why in answers if versions is None}
    assert not missing, f"pinned versions the public index does not list: {missing}"
    assert not unanswered, f"the index did not answer for: {unanswered}"
