"""The book's figure style, and figure export.

Every chapter calls :func:`use_style` once, makes figures with matplotlib, and passes each one
to :func:`publish`, which writes ``<chapter>-<name>.png`` and ``.pdf`` (:func:`savefig`) and
shows the figure.

Where the files go (:func:`figures_dir`), in order: the ``WGF_FIGURES_DIR`` environment variable;
inside the book build (the ``WGF_BOOK_BUILD`` environment variable, set by the Makefile and by
the book's Sphinx extension) ``figures/`` at the root of the checkout, so that ``make figures``
reproduces every figure of the book; anywhere else -- a chapter opened in JupyterLab, your own
script -- ``figures/`` in the current working directory.

How the figure is shown (:func:`publish`): inside the book build it is glued (``myst_nb.glue``)
and appears where the chapter's ``{glue:figure}`` directive stands, with its caption; anywhere
else it is also displayed in place, so an executed notebook carries it as an ``image/png``
output.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import matplotlib as mpl

__all__ = [
    "COLORS",
    "STYLE",
    "figures_dir",
    "in_book_build",
    "publish",
    "savefig",
    "subplots",
    "use_style",
]

#: One colour per role, used consistently across chapters.
COLORS = {
    "data": "#4d4d4d",
    "exact": "#000000",
    "ot": "#1b6ca8",  # geodesics / optimal transport / flow matching
    "diffusion": "#c0392b",  # gradient flows / diffusion
    "entropic": "#e67e22",
    "empirical": "#27ae60",
    "reference": "#8e44ad",
}

#: rcParams of the book's style.
STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "lines.linewidth": 1.6,
    "lines.markersize": 4.5,
    "image.cmap": "viridis",
    "axes.prop_cycle": mpl.cycler(color=[*list(COLORS.values())[1:], "#7f8c8d"]),
    "pdf.fonttype": 42,
}

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def use_style() -> None:
    """Apply the book's matplotlib style globally (idempotent)."""
    mpl.rcParams.update(STYLE)


def subplots(nrows: int = 1, ncols: int = 1, **kwargs):
    """``matplotlib.pyplot.subplots`` in the book's style (``constrained`` layout by default)."""
    import matplotlib.pyplot as plt

    use_style()
    kwargs.setdefault("layout", "constrained")
    if "figsize" not in kwargs and ncols > 1:
        kwargs["figsize"] = (min(3.4 * ncols, 11.0), STYLE["figure.figsize"][1])
    return plt.subplots(nrows, ncols, **kwargs)


def in_book_build() -> bool:
    """Whether the code runs inside the book build (``WGF_BOOK_BUILD`` set and not ``0``)."""
    return os.environ.get("WGF_BOOK_BUILD", "") not in ("", "0")


def figures_dir() -> Path:
    """The folder that :func:`savefig` writes to (created if needed).

    ``$WGF_FIGURES_DIR`` if set; inside the book build, ``figures/`` at the root of the source
    checkout; otherwise ``figures/`` in the current working directory.
    """
    env = os.environ.get("WGF_FIGURES_DIR")
    root = Path(__file__).resolve().parent.parent
    if env:
        out = Path(env)
    elif in_book_build() and (root / "_config.yml").is_file():
        out = root / "figures"
    else:
        out = Path.cwd() / "figures"
    out.mkdir(parents=True, exist_ok=True)
    return out


def savefig(fig, chapter: str, name: str, formats=("png", "pdf")) -> list[Path]:
    """Write ``fig`` to ``figures/<chapter>-<name>.<fmt>`` for each format; return the paths.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    chapter : str
        chapter id, the two-digit prefix of the chapter file (``"01"``).
    name : str
        figure name: lower-case letters, digits, ``-`` and ``_``.
    formats : sequence of str
        file formats understood by matplotlib.
    """
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    for label, value in (("chapter", chapter), ("name", name)):
        if not isinstance(value, str) or not _NAME.match(value):
            raise ValueError(f"{label} must match {_NAME.pattern!r}, got {value!r}")
    if not formats:
        raise ValueError("formats must name at least one file format")
    paths = []
    for fmt in formats:
        path = figures_dir() / f"{chapter}-{name}.{fmt}"
        fig.savefig(path, format=fmt)
        paths.append(path)
    return paths


def publish(fig, chapter: str, name: str) -> list[Path]:
    """Save ``fig`` with :func:`savefig`, show it, and close it; return the written paths.

    Inside IPython the figure is glued (``myst_nb.glue``) as ``fig-<name>``, so that the book
    shows it where a ``{glue:figure} fig-<name>`` directive with a caption and a label stands.
    Outside the book build (see :func:`in_book_build`) it is also displayed in place, so that a
    chapter run as a notebook shows its figures.  Outside IPython (scripts, tests) the figure is
    only saved and closed.
    """
    import matplotlib.pyplot as plt

    paths = savefig(fig, chapter, name)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is installed with the book extra
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        from IPython.display import display
        from myst_nb import glue

        glue(f"fig-{name}", fig, display=False)
        if not in_book_build():
            display(fig)
    plt.close(fig)
    return paths
