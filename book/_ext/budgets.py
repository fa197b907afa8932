"""Sphinx extension: record how long every chapter takes to execute, beside its budget.

The chapter budgets (3 minutes per chapter, 6 for chapters 10 and 11, 20 minutes for the book, on
an idle 2-core CPU without a GPU) are performance goals, not a gate: a shared or slower machine
must not fail the strict build.  This extension therefore only *records* them:

* every executed chapter's time, its budget, how it was executed (myst-nb's ``method``), its
  title, how many trained models it wrote to the model cache (``wgf.zoo``) and whether it uses
  the zoo at all, and the machine's core count and load, go to ``_build/timings.json``
  (``make bench`` reads it) and are printed as a table at the end of the build;
* the ``{wgf-timings}`` directive renders the same records as a table (the *Execution times*
  page);
* only a chapter that ran longer than ``wgf_hang_factor`` (4) times its budget -- a hang, not a
  busy machine -- is reported as a warning, which fails the strict build.

Trained or loaded: the zoo does not report to Sphinx, so the extension lists the model cache
(``$WGF_CACHE_DIR``, else the zoo's default folder) before and after each chapter executes; entry
files (``*.pt``) that appeared or changed in between were trained by that chapter.  A chapter
whose source calls ``zoo.`` but trained nothing loaded its models from the cache.

Configuration values (``sphinx.config`` in ``_config.yml``):

``wgf_chapter_budget_s``
    default budget for one chapter, in seconds.
``wgf_chapter_budget_overrides``
    mapping docname -> budget for chapters with a larger allowance.
``wgf_book_budget_s``
    budget for executing the whole book (recorded, never a warning).
``wgf_hang_factor``
    a chapter slower than this multiple of its budget is reported as a hang (a warning).
"""

from __future__ import annotations

import json
import os
import platform
import re
import time
from pathlib import Path

from docutils import nodes
from myst_nb.sphinx_ import NbMetadataCollector
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


# --- the model cache, listed around each chapter's execution -----------------------------------


def _cache_dir() -> Path:
    env = os.environ.get("WGF_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wgf" / "zoo"


def _cache_listing() -> dict[str, float]:
    folder = _cache_dir()
    if not folder.is_dir():
        return {}
    return {p.name: p.stat().st_mtime for p in folder.glob("*.pt") if p.is_file()}


def _before_read(app, docname, source):
    app.env.wgf_cache_before = (docname, _cache_listing())
    if not hasattr(app.env, "wgf_models"):
        app.env.wgf_models = {}
    text = source[0] if source else ""
    app.env.wgf_models[docname] = {
        "uses_zoo": bool(re.search(r"\bzoo\.", text)),
        "models_trained": 0,
    }


def _after_read(app, doctree):
    docname = app.env.docname
    before = getattr(app.env, "wgf_cache_before", None)
    if not before or before[0] != docname:
        return
    old, new = before[1], _cache_listing()
    trained = sorted(name for name, mtime in new.items() if old.get(name) != mtime)
    app.env.wgf_models[docname]["models_trained"] = len(trained)
    app.env.wgf_cache_before = None


def _purge(app, env, docname):
    getattr(env, "wgf_models", {}).pop(docname, None)


def _merge(app, env, docnames, other):
    if not hasattr(env, "wgf_models"):
        env.wgf_models = {}
    env.wgf_models.update(
        {d: v for d, v in getattr(other, "wgf_models", {}).items() if d in docnames}
    )


# --- the records -------------------------------------------------------------------------------


def _cores() -> dict:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {"cores": usable, "cpu_count": os.cpu_count()}


def _models_label(row: dict) -> str:
    if row.get("models_trained"):
        n = row["models_trained"]
        return f"trained {n} model{'s' if n != 1 else ''}"
    if row.get("uses_zoo"):
        return "loaded from the cache" if row.get("method") != "cache" else "(cached notebook)"
    return "none"


def collect(app, env) -> dict:
    """The timing records of every executed document (also written to ``timings.json``)."""
    data = NbMetadataCollector.get_doc_data(env)
    budget = float(app.config.wgf_chapter_budget_s)
    overrides = dict(app.config.wgf_chapter_budget_overrides or {})
    factor = float(app.config.wgf_hang_factor)
    models = getattr(env, "wgf_models", {})
    rows, total = {}, 0.0
    for docname in sorted(data):
        exec_data = data[docname].get("exec_data")
        if not exec_data or exec_data.get("runtime") is None:
            continue
        runtime = float(exec_data["runtime"])
        limit = float(overrides.get(docname, budget))
        title = env.titles[docname].astext() if docname in env.titles else docname
        number = env.toc_secnumbers.get(docname, {}).get("")
        rows[docname] = {
            "runtime_s": round(runtime, 2),
            "budget_s": limit,
            "method": exec_data.get("method"),
            "succeeded": bool(exec_data.get("succeeded", True)),
            "title": title,
            "number": ".".join(map(str, number)) if number else "",
            "over_budget": runtime > limit,
            "hang_limit_s": factor * limit,
            **models.get(docname, {"uses_zoo": False, "models_trained": 0}),
        }
        rows[docname]["models"] = _models_label(rows[docname])
        total += runtime
    return {
        "chapters": rows,
        "total_s": round(total, 2),
        "book_budget_s": float(app.config.wgf_book_budget_s),
        "hang_factor": factor,
        **_cores(),
        "loadavg": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _record(app, env):
    records = collect(app, env)
    for docname, row in records["chapters"].items():
        if row["runtime_s"] > row["hang_limit_s"]:
            logger.warning(
                "executing %s took %.1f s, more than %g x its budget of %.0f s: "
                "a hang rather than a busy machine?",
                docname,
                row["runtime_s"],
                records["hang_factor"],
                row["budget_s"],
                location=docname,
            )
    env.wgf_timings = records
    out = Path(app.outdir).parent / "timings.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(records, indent=2) + "\n")
    return []


def format_table(records: dict) -> str:
    """The records as a plain-text table (printed at the end of the build)."""
    lines = [f"{'chapter':34s} {'time':>8s} {'budget':>7s}  models"]
    for docname, row in records["chapters"].items():
        flag = "  over budget" if row["over_budget"] else ""
        lines.append(
            f"{docname:34s} {row['runtime_s']:7.1f}s {row['budget_s']:6.0f}s  {row['models']}{flag}"
        )
    lines.append(
        f"{'total':34s} {records['total_s']:7.1f}s {records['book_budget_s']:6.0f}s  "
        f"({records['cores']} cores)"
    )
    return "\n".join(lines)


def _print(app, exc):
    records = getattr(app.env, "wgf_timings", None)
    if exc is None and records and records["chapters"]:
        logger.info(
            "\nchapter execution times (budgets are goals, not a gate):\n%s", format_table(records)
        )


# --- the {wgf-timings} directive ----------------------------------------------------------------


class timings_placeholder(nodes.General, nodes.Element):
    """Replaced by the table of execution times once every chapter has executed."""


class TimingsDirective(SphinxDirective):
    """``{wgf-timings}``: the table of chapter execution times of this build."""

    has_content = False

    def run(self):
        pages = getattr(self.env, "wgf_timings_pages", set())
        pages.add(self.env.docname)
        self.env.wgf_timings_pages = pages
        return [timings_placeholder()]


def _always_reread_timings(app, env, added, changed, removed):
    return sorted(getattr(env, "wgf_timings_pages", set()) - set(removed))


def _text_cell(text):
    entry = nodes.entry()
    entry += nodes.paragraph("", text)
    return entry


def _table(app, fromdoc, records):
    headers = ["chapter", "execution time", "budget", "trained models"]
    table = nodes.table(classes=["wgf-timings"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in (50, 16, 12, 22):
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    row = nodes.row()
    for h in headers:
        row += _text_cell(h)
    head += row
    group += head
    body = nodes.tbody()
    for docname, rec in records["chapters"].items():
        row = nodes.row()
        entry = nodes.entry()
        para = nodes.paragraph()
        label = f"{rec['number']} · {rec['title']}" if rec["number"] else rec["title"]
        uri = app.builder.get_relative_uri(fromdoc, docname)
        para += nodes.reference("", label, internal=True, refuri=uri)
        entry += para
        row += entry
        over = " (over)" if rec["over_budget"] else ""
        row += _text_cell(f"{rec['runtime_s']:.0f} s{over}")
        row += _text_cell(f"{rec['budget_s']:.0f} s")
        row += _text_cell(rec["models"])
        body += row
    row = nodes.row()
    row += _text_cell("total")
    over = " (over)" if records["total_s"] > records["book_budget_s"] else ""
    row += _text_cell(f"{records['total_s']:.0f} s{over}")
    row += _text_cell(f"{records['book_budget_s']:.0f} s")
    row += _text_cell("")
    body += row
    group += body
    return table


def _resolve_timings(app, doctree, docname):
    records = getattr(app.env, "wgf_timings", None)
    for placeholder in list(doctree.findall(timings_placeholder)):
        if not records or not records["chapters"]:
            para = nodes.paragraph(
                "", "No chapter was executed in this build (execution was off or cached)."
            )
            placeholder.replace_self(para)
            continue
        summary = nodes.paragraph(
            "",
            f"Measured on {records['cores']} CPU cores ({records['machine']}, Python "
            f"{records['python']}); the whole book took {records['total_s'] / 60:.1f} minutes "
            f"against a budget of {records['book_budget_s'] / 60:.0f}; load average at the end "
            f"of execution {records['loadavg'][0] if records['loadavg'] else 'n/a'}.",
        )
        placeholder.replace_self([_table(app, docname, records), summary])


def setup(app):
    app.add_config_value("wgf_chapter_budget_s", 180, "env")
    app.add_config_value("wgf_chapter_budget_overrides", {}, "env")
    app.add_config_value("wgf_book_budget_s", 1200, "env")
    app.add_config_value("wgf_hang_factor", 4, "env")
    app.add_node(timings_placeholder)
    app.add_directive("wgf-timings", TimingsDirective)
    app.connect("source-read", _before_read)
    app.connect("doctree-read", _after_read)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _always_reread_timings)
    app.connect("env-updated", _record)
    app.connect("doctree-resolved", _resolve_timings)
    app.connect("build-finished", _print)
    return {"version": "0.2", "parallel_read_safe": True, "parallel_write_safe": True}
