"""Chapters run as notebooks show their figures: ``plot.publish`` outside the book build.

Inside the book build (``WGF_BOOK_BUILD`` set) a published figure is only glued, so the page shows
it once, under its caption; anywhere else it is also displayed, so an executed notebook carries
an ``image/png`` output that JupyterLab renders.  Both are checked by executing notebooks with
nbclient in a fresh kernel, as ``jupyter nbconvert --execute`` would.
"""

import re
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
GLUE_MIME = "application/papermill.record/image/png"


def _execute(nb, cwd, timeout=600):
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return nb


def _outputs(nb):
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def _plain_images(nb):
    return [o for o in _outputs(nb) if "image/png" in o.get("data", {})]


def _tiny_notebook():
    code = (
        "from wgf import plot\n"
        "fig, ax = plot.subplots()\n"
        "ax.plot([0, 1], [1, 0])\n"
        'paths = plot.publish(fig, "99", "tiny")\n'
        "print(sorted(p.name for p in paths))"
    )
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])


@pytest.fixture
def outside_build(tmp_path, monkeypatch):
    monkeypatch.delenv("WGF_BOOK_BUILD", raising=False)
    monkeypatch.delenv("WGF_FIGURES_DIR", raising=False)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return tmp_path


def test_published_figure_is_displayed_outside_the_book_build(outside_build):
    nb = _execute(_tiny_notebook(), outside_build)
    images = _plain_images(nb)
    assert len(images) == 1, "one published figure, one image/png output"
    assert images[0]["data"]["image/png"], "the image output is empty"
    assert any(GLUE_MIME in o.get("data", {}) for o in _outputs(nb)), "the figure is also glued"
    # outside the build, the files land in the notebook's working directory
    assert (outside_build / "figures" / "99-tiny.png").is_file()
    assert (outside_build / "figures" / "99-tiny.pdf").is_file()


def test_published_figure_is_only_glued_inside_the_book_build(outside_build, monkeypatch):
    monkeypatch.setenv("WGF_BOOK_BUILD", "1")
    monkeypatch.setenv("WGF_FIGURES_DIR", str(outside_build / "figs"))
    nb = _execute(_tiny_notebook(), outside_build)
    assert _plain_images(nb) == [], "inside the build the page shows the figure once, glued"
    assert any(GLUE_MIME in o.get("data", {}) for o in _outputs(nb))


@pytest.mark.slow
def test_a_chapter_run_as_a_notebook_carries_every_figure(outside_build, monkeypatch):
    chapter = ROOT / "book" / "03_otto_calculus.md"
    nb = jupytext.read(chapter)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    published = re.findall(r'plot\.publish\(fig, "\d\d", "([a-z0-9_-]+)"\)', code)
    assert published, "chapter 03 publishes no figure"
    monkeypatch.setenv("WGF_FIGURES_DIR", str(outside_build / "figures"))
    _execute(nb, chapter.parent, timeout=900)
    assert len(_plain_images(nb)) == len(published)
    for name in published:
        assert (outside_build / "figures" / f"03-{name}.png").is_file()


def test_downloaded_notebooks_show_glued_values_once():
    """The book's .ipynb downloads: a value glued with display=False gets a visible twin."""
    import sys

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from nbreadable import readable

    png = "iVBORw0KGgo="
    hidden = nbformat.v4.new_output(
        "display_data",
        data={"application/papermill.record/text/plain": "0.125"},
        metadata={"scrapbook": {"name": "err", "mime_prefix": "application/papermill.record/"}},
    )
    fig = nbformat.v4.new_output(
        "display_data",
        data={"application/papermill.record/image/png": png},
        metadata={"scrapbook": {"name": "fig-x", "mime_prefix": "application/papermill.record/"}},
    )
    shown_fig = nbformat.v4.new_output("display_data", data={"image/png": png})
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("glue('err', 0.125, display=False)", outputs=[hidden]),
            nbformat.v4.new_code_cell("publish(fig) in the book build", outputs=[fig]),
            nbformat.v4.new_code_cell("publish(fig) outside it", outputs=[fig, shown_fig]),
        ]
    )
    out = readable(nb)
    assert [o.data.get("text/plain") for o in out.cells[0].outputs][1] == "err = 0.125"
    assert [o.data.get("image/png") for o in out.cells[1].outputs] == [None, png]
    assert len(out.cells[2].outputs) == 2, "a figure already displayed is not repeated"
    assert len(nb.cells[0].outputs) == 1, "the input notebook is left unchanged"
