"""The built book in a real browser: headless Chromium over every page of ``_build/html``.

For every page: the math is typeset by the MathJax that the site serves itself (MathJax output
present, no raw ``\\(`` left in the text, no request leaves the machine), every image has loaded
(``naturalWidth > 0``), every internal link resolves (file and ``#fragment``), and the browser
console reports no error.  One screenshot per part of the book goes to ``_build/screenshots/``.

The site is served from ``127.0.0.1`` on a free port, for the duration of the test only.

Runs when ``WGF_BOOK_HTML`` names a built site (``make browser`` sets it, after the strict build
of ``make test``); the unit-test run skips it.  It needs Playwright's Python package (the ``dev``
extra) and a Chromium: ``$WGF_CHROMIUM``, else ``/usr/bin/chromium`` (Debian's package;
``.ci/install-browser`` installs it), else Playwright's own download.  Where none can be had the
test is skipped and says so.
"""

from __future__ import annotations

import functools
import html
import os
import re
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SITE = os.environ.get("WGF_BOOK_HTML")
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

needs_site = pytest.mark.skipif(
    not SITE, reason="browser test: set WGF_BOOK_HTML to a built site (make browser does)"
)


def _chromium() -> str | None:
    for candidate in (os.environ.get("WGF_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def site() -> Path:
    path = Path(SITE).resolve()
    assert (path / "index.html").is_file(), f"WGF_BOOK_HTML={SITE} holds no built book"
    return path


class _Server:
    """Serve a folder on 127.0.0.1 (a free port) while the ``with`` block runs."""

    def __init__(self, folder: Path):
        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        handler = functools.partial(Quiet, directory=str(folder))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)

    def __enter__(self) -> str:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server(site):
    with _Server(site) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("browser test skipped: Playwright is not installed (pip install -e '.[dev]')")
    executable = _chromium()
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Error as exc:
            pytest.skip(
                "browser test skipped: no Chromium could be started "
                f"(tried {executable or 'Playwright’s own download'}; on Debian run "
                f".ci/install-browser or set WGF_CHROMIUM): {str(exc).splitlines()[0]}"
            )
        yield b
        b.close()


def _pages(site: Path) -> list[str]:
    return sorted(
        p.relative_to(site).as_posix()
        for p in site.rglob("*.html")
        if "_static" not in p.parts and "_sources" not in p.parts
    )


_REFRESH = re.compile(r'http-equiv="refresh"[^>]*url=([^"]+)"', re.I)


def _redirect(path: Path) -> str | None:
    """The target of a page that only redirects (``index.html`` of a Jupyter Book)."""
    m = _REFRESH.search(path.read_text(errors="replace")[:2000])
    return m.group(1) if m else None


def _ids(path: Path) -> set[str]:
    text = path.read_text(errors="replace")
    return {html.unescape(m) for m in re.findall(r'\bid="([^"]+)"', text)}


def check_pages(
    site: Path, base_url: str, browser, pages: list[str], math_timeout_ms: int = 60_000
) -> list[str]:
    """Open every page in Chromium; return the problems found (empty when all is well)."""
    ids_cache: dict[Path, set[str]] = {}
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    context.route(
        re.compile(r"^(?!http://127\.0\.0\.1:).*"),
        lambda route: (outside.append(route.request.url), route.abort()),
    )
    for rel in pages:
        target = _redirect(site / rel)
        if target is not None:
            if not ((site / rel).parent / urlsplit(target).path).is_file():
                problems.append(f"{rel}: redirects to a missing page: {target}")
            continue
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m, e=errors: m.type == "error" and e.append(m.text))
        page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
        page.on("requestfailed", lambda r, e=errors: e.append(f"failed request {r.url}"))
        page.goto(urljoin(base_url, rel), wait_until="load")
        has_math = page.evaluate("() => document.querySelector('.math') !== null")
        if has_math:
            try:
                page.wait_for_function(
                    "() => window.MathJax && MathJax.startup", timeout=math_timeout_ms
                )
                page.evaluate("() => MathJax.startup.promise")
            except Exception as exc:  # playwright's TimeoutError: no MathJax on the page
                errors.append(f"MathJax did not start: {str(exc).splitlines()[0]}")
            typeset = page.evaluate("() => document.querySelectorAll('mjx-container').length")
            if not typeset:
                problems.append(f"{rel}: math present but no MathJax output")
        raw = page.evaluate(
            """() => { const b = document.querySelector('main') || document.body;
                       const c = b.cloneNode(true);
                       c.querySelectorAll('pre, code, script, style, mjx-container, textarea')
                        .forEach(n => n.remove());
                       const t = c.textContent;
                       const i = t.search(/\\\\\\(|\\\\\\[/);
                       return i < 0 ? '' : t.slice(Math.max(0, i - 30), i + 40); }"""
        )
        if raw:
            problems.append(f"{rel}: raw TeX left untypeset: {raw!r}")
        broken = page.evaluate(
            """() => Array.from(document.images)
                     .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"""
        )
        problems += [f"{rel}: image did not load: {src}" for src in broken]
        hrefs = page.evaluate(
            "() => Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))"
        )
        for href in hrefs:
            parts = urlsplit(href)
            if parts.scheme or href.startswith("//") or not (parts.path or parts.fragment):
                continue
            target = (site / rel).parent / unquote(parts.path) if parts.path else site / rel
            target = target.resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.append(f"{rel}: link to a missing file: {href}")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = ids_cache.setdefault(target, _ids(target))
                if unquote(parts.fragment) not in ids:
                    problems.append(f"{rel}: link to a missing anchor: {href}")
        problems += [f"{rel}: console: {e}" for e in errors]
        page.close()
    context.close()
    problems += [f"request that leaves the machine: {url}" for url in sorted(set(outside))]
    return problems


@needs_site
def test_every_page_renders_offline(site, server, browser):
    pages = _pages(site)
    assert "index.html" in pages and len(pages) > 5
    problems = check_pages(site, server, browser, pages)
    assert not problems, "\n".join(problems[:60])


def test_the_checks_reject_a_broken_page(tmp_path, browser):
    """Negative control: a page with each fault the site test looks for is caught, each time."""
    (tmp_path / "good.html").write_text('<html><body><p id="here">fine</p></body></html>')
    (tmp_path / "bad.html").write_text(
        "<html><body><main><p class='math'>\\(x^2\\)</p>"
        "<img src='missing.png'><a href='nowhere.html'>x</a><a href='good.html#gone'>y</a>"
        "<script>undefinedFunction()</script></main></body></html>"
    )
    with _Server(tmp_path) as url:
        assert check_pages(tmp_path, url, browser, ["good.html"]) == []
        found = "\n".join(check_pages(tmp_path, url, browser, ["bad.html"], 2_000))
    for fault in ("no MathJax output", "raw TeX", "image did not load", "missing file",
                  "missing anchor", "console"):  # fmt: skip
        assert fault in found, f"the check missed: {fault}\n{found}"


def _first_pages_of_parts() -> list[tuple[str, str]]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    shots = [("intro", toc["root"])]
    for i, part in enumerate(toc["parts"], start=1):
        slug = re.sub(r"[^a-z0-9]+", "-", part["caption"].lower()).strip("-")
        shots.append((f"part{i}-{slug}", part["chapters"][0]["file"]))
    return shots


@needs_site
def test_one_screenshot_per_part_shows_typeset_math(site, server, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    for name, doc in _first_pages_of_parts():
        page.goto(urljoin(server, f"{doc}.html"), wait_until="load")
        if page.evaluate("() => document.querySelector('.math') !== null"):
            page.wait_for_function("() => window.MathJax && MathJax.startup", timeout=30_000)
            page.evaluate("() => MathJax.startup.promise")
            display = page.query_selector("mjx-container[display='true']")
            if display is not None:
                display.scroll_into_view_if_needed()
        out = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(out))
        assert out.stat().st_size > 10_000, f"{out} is suspiciously small"
    page.close()
