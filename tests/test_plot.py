"""Tests of wgf.plot: the style applies and figures land in figures/ as PNG and PDF."""

import matplotlib as mpl
import pytest

from wgf import plot


@pytest.fixture
def figdir(tmp_path, monkeypatch):
    monkeypatch.setenv("WGF_FIGURES_DIR", str(tmp_path / "figs"))
    return tmp_path / "figs"


def test_savefig_writes_png_and_pdf(figdir):
    fig, ax = plot.subplots()
    ax.plot([0, 1], [0, 1])
    paths = plot.savefig(fig, "01", "test-figure")
    assert [p.name for p in paths] == ["01-test-figure.png", "01-test-figure.pdf"]
    assert all(p.parent == figdir and p.stat().st_size > 0 for p in paths)
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths[1].read_bytes()[:5] == b"%PDF-"


def test_style_is_applied():
    plot.use_style()
    assert mpl.rcParams["axes.spines.top"] is False
    assert mpl.rcParams["savefig.dpi"] == plot.STYLE["savefig.dpi"]


def test_default_folder_outside_the_book_build_is_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("WGF_FIGURES_DIR", raising=False)
    monkeypatch.delenv("WGF_BOOK_BUILD", raising=False)
    monkeypatch.chdir(tmp_path)
    assert not plot.in_book_build()
    assert plot.figures_dir() == tmp_path / "figures"
    assert (tmp_path / "figures").is_dir()


def test_default_folder_inside_the_book_build_is_the_checkout(tmp_path, monkeypatch):
    from pathlib import Path

    root = Path(plot.__file__).resolve().parents[1]
    monkeypatch.delenv("WGF_FIGURES_DIR", raising=False)
    monkeypatch.setenv("WGF_BOOK_BUILD", "1")
    monkeypatch.chdir(tmp_path)
    assert plot.in_book_build()
    assert plot.figures_dir() == root / "figures"
    monkeypatch.setenv("WGF_BOOK_BUILD", "0")
    assert not plot.in_book_build()


@pytest.mark.parametrize(("chapter", "name"), [("01", "Bad Name"), ("../x", "a"), ("01", "")])
def test_bad_names(figdir, chapter, name):
    fig, _ = plot.subplots()
    with pytest.raises(ValueError, match="must match"):
        plot.savefig(fig, chapter, name)


def test_bad_figure(figdir):
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure"):
        plot.savefig("not a figure", "01", "x")
    fig, _ = plot.subplots()
    with pytest.raises(ValueError, match="formats"):
        plot.savefig(fig, "01", "x", formats=())


def test_publish_saves_and_closes_outside_ipython(figdir):
    import matplotlib.pyplot as plt

    fig, _ = plot.subplots()
    paths = plot.publish(fig, "01", "published")
    assert all(p.exists() for p in paths)
    assert not plt.fignum_exists(fig.number)
