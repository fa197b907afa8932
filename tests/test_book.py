"""Book-level checks: structure, notebooks, citations, claims (cheap; the strict build executes)."""

import re
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.md"))


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [c["file"] for c in part["chapters"]]
    return files


def test_there_are_chapters():
    assert CHAPTERS, "no chapters found in book/"


def test_toc_and_chapter_files_agree():
    listed = toc_files()
    for f in listed:
        assert (ROOT / f"{f}.md").is_file(), f"_toc.yml lists {f} but {f}.md does not exist"
    for ch in CHAPTERS:
        assert f"book/{ch.stem}" in listed, f"{ch.name} is not in _toc.yml"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_a_myst_notebook_that_asserts_and_publishes(chapter):
    nb = jupytext.read(chapter)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["jupytext"]["text_representation"]["format_name"] == "myst"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    text = chapter.read_text()
    assert re.search(r"^\s*assert ", code, re.M), f"{chapter.name} asserts nothing"
    assert "glue(" in code, f"{chapter.name} glues no number into its text"
    # every published figure is shown with a caption, and every caption has a figure
    published = set(re.findall(r'plot\.publish\(fig, "(\d\d)", "([a-z0-9_-]+)"\)', code))
    assert {ch for ch, _ in published} <= {chapter.stem[:2]}, (
        "figures saved under another chapter id"
    )
    shown = set(re.findall(r"```\{glue:figure\} fig-([a-z0-9_-]+)", text))
    assert {name for _, name in published} == shown


def test_citations_exist_in_bibliography():
    bib = (BOOK / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,\s]+),", bib))
    sources = list(BOOK.glob("*.md")) + list((ROOT / "wgf").glob("*.py"))
    cited = set()
    for src in sources:
        for group in re.findall(r"\{cite(?::[pt])?\}`([^`]+)`", src.read_text()):
            cited.update(k.strip() for k in group.split(","))
        for group in re.findall(r":cite:p?:`([^`]+)`", src.read_text()):
            cited.update(k.strip() for k in group.split(","))
    assert cited, "nothing is cited"
    assert cited <= keys, f"unknown citation keys: {sorted(cited - keys)}"


def test_intro_claims_table_lists_every_claim_once():
    intro = (BOOK / "intro.md").read_text()
    ids = re.findall(r"^\| (C\d+) \|", intro, re.M)
    assert ids == [f"C{i}" for i in range(1, 11)]
    for line in intro.splitlines():
        if re.match(r"^\| C\d+ \|", line) and line.rstrip().endswith("| verified |"):
            assert "{doc}`" in line, f"a verified claim must link its chapter: {line}"


def test_strict_config_forces_execution(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "strict.yml"
    subprocess.run([sys.executable, str(BOOK / "_ext" / "strict_config.py"), str(out)], check=True)
    strict = yaml.safe_load(out.read_text())
    original = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert strict["execute"]["execute_notebooks"] == "force"
    for path in strict["sphinx"]["local_extensions"].values():
        assert Path(path).is_absolute() and Path(path).is_dir()
    strict["execute"]["execute_notebooks"] = original["execute"]["execute_notebooks"]
    strict["sphinx"]["local_extensions"] = original["sphinx"]["local_extensions"]
    assert strict == original  # nothing else changes
