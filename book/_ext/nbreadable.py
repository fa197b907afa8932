"""Executed chapters as notebooks a reader can open: glued values made visible.

A chapter glues its figures and numbers into the book with ``myst_nb.glue``.  A value glued with
``display=False`` is stored in the notebook under a private MIME type
(``application/papermill.record/...``) that JupyterLab does not render, so the executed notebook
of the book build would show neither those figures nor those numbers.  :func:`readable` adds,
after each such record, an ordinary output with the same content (a figure as ``image/png``, a
number as ``key = value``), keeping the record itself, so the notebook still re-glues.

Used by the book's Sphinx extension (the ``.ipynb`` download of every chapter page) and by
``book/_ext/run_chapters.py`` (``make notebooks``).
"""

from __future__ import annotations

import copy

import nbformat

GLUE_PREFIX = "application/papermill.record/"


def _visible_twin(output):
    data = output.get("data", {})
    hidden = {k[len(GLUE_PREFIX) :]: v for k, v in data.items() if k.startswith(GLUE_PREFIX)}
    if not hidden:
        return None
    name = output.get("metadata", {}).get("scrapbook", {}).get("name", "")
    shown = {k: v for k, v in hidden.items() if k != "text/plain" and not k.startswith("text/")}
    if not shown:  # a number or a string: show it with its key
        shown = {"text/plain": f"{name} = {hidden.get('text/plain', '')}"}
    else:
        shown.setdefault("text/plain", f"<{name}>")
    return nbformat.v4.new_output("display_data", data=shown, metadata={"wgf": {"glued": name}})


def readable(nb):
    """A copy of the executed notebook ``nb`` in which every glued value is also displayed."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.get("outputs"):
            continue
        shown = {  # payloads the cell already displays (a figure shown by plot.publish)
            str(v) for o in cell.outputs for k, v in o.get("data", {}).items() if k == "image/png"
        }
        outputs = []
        for output in cell.outputs:
            outputs.append(output)
            if output.get("output_type") == "display_data":
                twin = _visible_twin(output)
                if twin is not None and str(twin.data.get("image/png")) not in shown:
                    outputs.append(twin)
        cell.outputs = outputs
    return nb
