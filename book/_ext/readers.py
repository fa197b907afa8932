"""Sphinx extension: the book as its readers get it.

* **Book-build marker.**  ``WGF_BOOK_BUILD=1`` (and ``TQDM_DISABLE=1``: no progress widgets
  in the static pages) is set in the build's environment before any
  chapter executes, so the kernels that myst-nb starts inherit it and ``wgf.plot.publish`` only
  glues each figure (the page shows it once, under its caption).  Outside the build the marker is
  absent and ``publish`` also displays the figure, so a chapter run as a notebook shows it.
* **Notebook downloads.**  Every executed page (each chapter) gets an ``.ipynb`` entry in its download
  menu: the notebook executed by this build, with every glued figure and number also shown as an
  ordinary output (``book/_ext/nbreadable.py``), written to ``_sources/<page>.ipynb``.
* **Captions name their files.**  ``{glue:figure} fig-<name>`` in chapter ``NN_...`` shows the
  figure that ``wgf.plot.publish`` exported as ``figures/NN-<name>.png`` (and ``.pdf``); the
  caption says so.
* **Pages that work offline, without console errors.**  The live-code scripts (thebe), which
  this book does not use, are left out, and the theme gets a default colour mode.
* **Model defaults on the API page.**  A class with a ``defaults`` dict (every model of the zoo)
  lists it under its docstring.
* **Chapter numbers come from the table of contents.**  Chapters and their figures and equations
  are numbered per chapter (8.3, Fig. 8.3) by the numbered table of contents; a title that
  spells its number out as ``"8 · Flow Matching ..."`` would show it twice, so that prefix is
  dropped from titles of numbered chapters.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
from docutils import nodes
from myst_nb.ext.glue.directives import PasteFigureDirective
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbreadable import readable

logger = logging.getLogger(__name__)

_CHAPTER = re.compile(r"^(?:.*/)?(\d\d)_[^/]+$")
_TITLE_NUMBER = re.compile(r"^\s*\d+\s*·\s*")


class CaptionedPasteFigure(PasteFigureDirective):
    """``{glue:figure}`` whose caption ends with the name of the exported figure file."""

    def run(self):
        result = super().run()
        docname = self.state.document.settings.env.docname
        chapter = _CHAPTER.match(docname)
        key = self.arguments[0]
        if not (chapter and key.startswith("fig-")):
            return result
        stem = f"{chapter.group(1)}-{key[len('fig-') :]}"
        for node in result:
            if isinstance(node, nodes.figure):
                caption = next(iter(node.findall(nodes.caption)), None)
                note = [
                    nodes.Text(" (File: "),
                    nodes.literal("", f"figures/{stem}.png"),
                    nodes.Text(", "),
                    nodes.literal("", ".pdf"),
                    nodes.Text(".)"),
                ]
                if caption is None:
                    node += nodes.caption("", "", *note[1:-1])
                else:
                    caption.extend(note)
        return result


class StripTitleNumber(SphinxTransform):
    """Drop a spelled-out ``N · `` from a chapter's title: the numbered toc numbers it.

    A transform, so that it runs while the document is parsed, before Sphinx collects the
    title for the table of contents and for ``{doc}`` links.
    """

    default_priority = 200

    def apply(self, **kwargs):
        if not _CHAPTER.match(self.env.docname):
            return
        for title in self.document.findall(nodes.title):
            first = title.children[0] if title.children else None
            if isinstance(first, nodes.Text) and _TITLE_NUMBER.match(first):
                title.replace(first, nodes.Text(_TITLE_NUMBER.sub("", str(first), count=1)))
            break  # the first title only


def _notebook_download(app, pagename, templatename, context, doctree):
    """Offer the executed notebook of an executed page in its download menu."""
    if app.builder.format != "html":
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.is_file():
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(executed, as_version=4)
    nbformat.write(readable(nb), target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def _show_defaults(app, what, name, obj, options, lines):
    """Append a model class's ``defaults`` (and ``sampler_defaults``) to its API documentation."""
    if what != "class":
        return
    for attr, heading in (("defaults", "Defaults"), ("sampler_defaults", "Sampler defaults")):
        values = getattr(obj, attr, None)
        if not isinstance(values, dict) or not values:
            continue
        lines += ["", f".. rubric:: {heading}", "", f"``{attr}``, used unless overridden:", ""]
        lines += [f"* ``{key} = {value!r}``" for key, value in values.items()]
        lines.append("")


def _theme_defaults(app, config):
    """A default colour mode, so the theme does not log an error on a reader's first visit."""
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")
    config.html_context = context


def _is_thebe(asset) -> bool:
    name = str(getattr(asset, "filename", "") or "")
    body = str(getattr(asset, "attributes", {}).get("body", ""))
    return "thebe" in name or "THEBE_JS_URL" in body


def _drop_thebe(app, pagename, templatename, context, doctree):
    """Remove the live-code (thebe) scripts: no launch service is configured, and they name a
    CDN and, as added by Jupyter Book, declare one variable twice (a console error)."""
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [a for a in context[key] if not _is_thebe(a)]


def setup(app):
    os.environ["WGF_BOOK_BUILD"] = "1"
    # No progress bars in the executed pages: a static page cannot animate one, and a tqdm
    # bar in a notebook kernel is an ipywidget, whose page would then load require.js and the
    # widget manager from a CDN (the book is read offline).  tqdm reads TQDM_DISABLE itself.
    os.environ.setdefault("TQDM_DISABLE", "1")
    app.add_directive_to_domain("glue", "figure", CaptionedPasteFigure, override=True)
    app.add_transform(StripTitleNumber)
    app.connect("autodoc-process-docstring", _show_defaults)
    app.connect("config-inited", _theme_defaults)
    app.connect("html-page-context", _drop_thebe)
    # before sphinx-book-theme builds the download menu (priority 501)
    app.connect("html-page-context", _notebook_download, priority=500)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
