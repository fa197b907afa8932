"""Sphinx extension: enforce the chapter execution budgets of DESIGN.md section 4.

After every document has been read (and, for notebooks, executed by myst-nb), compare each
notebook's execution time with its budget.  A chapter over budget, or a whole book over the
book budget, is reported as a Sphinx *warning*, so that the strict build (``-W``) fails.  The
measured times are also written to ``_build/timings.json`` for the record.

Configuration values (``sphinx.config`` in ``_config.yml``):

``wgf_chapter_budget_s``
    default budget for one chapter, in seconds.
``wgf_chapter_budget_overrides``
    mapping docname -> budget for chapters with a larger allowance.
``wgf_book_budget_s``
    budget for executing the whole book.
"""

from __future__ import annotations

import json
from pathlib import Path

from myst_nb.sphinx_ import NbMetadataCollector
from sphinx.util import logging

logger = logging.getLogger(__name__)


def _check_budgets(app, env):
    data = NbMetadataCollector.get_doc_data(env)
    budget = float(app.config.wgf_chapter_budget_s)
    overrides = dict(app.config.wgf_chapter_budget_overrides or {})
    rows, total = {}, 0.0
    for docname in sorted(data):
        exec_data = data[docname].get("exec_data")
        if not exec_data or exec_data.get("runtime") is None:
            continue
        runtime = float(exec_data["runtime"])
        limit = float(overrides.get(docname, budget))
        rows[docname] = {
            "runtime_s": round(runtime, 2),
            "budget_s": limit,
            "method": exec_data.get("method"),
        }
        total += runtime
        if runtime > limit:
            logger.warning(
                "executing %s took %.1f s, over its budget of %.0f s (DESIGN.md section 4)",
                docname,
                runtime,
                limit,
                location=docname,
            )
    if total > float(app.config.wgf_book_budget_s):
        logger.warning(
            "executing the book took %.1f s, over its budget of %.0f s",
            total,
            app.config.wgf_book_budget_s,
        )
    out = Path(app.outdir).parent / "timings.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"chapters": rows, "total_s": round(total, 2)}, indent=2) + "\n")
    return []


def setup(app):
    app.add_config_value("wgf_chapter_budget_s", 180, "env")
    app.add_config_value("wgf_chapter_budget_overrides", {}, "env")
    app.add_config_value("wgf_book_budget_s", 1200, "env")
    app.connect("env-updated", _check_budgets)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
