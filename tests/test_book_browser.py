"""A real browser opens the built book: every page loads without console errors, every image resolves,
internal links (and their #anchors) exist, and nothing is fetched from outside the machine.

Uses headless Chromium (Debian package ``chromium``; ``make test`` installs it when missing) driven by
Playwright with ``executable_path``, so no browser is downloaded. Screenshots of the home page and of the
first report page land in ``build/screenshots/`` for inspection.

The standalone ``report.html`` of every ready protocol is opened too, at 1280 and at 400 pixels wide
(a phone): it loads with no console error and no request leaving the page, its images (data URIs) decode,
its glossary links land on anchors of the page, the synthetic-data banner is on the first screen, and at
400 pixels the page does not scroll sideways. Screenshots ``report_<name>_<width>.png`` (first screen and
full page) land in ``build/screenshots/``. That test skips when Chromium is not installed.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SKIP_DIRS = {"_static", "_sources", "_images", "_sphinx_design_static"}


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:  # pragma: no cover - make test installs it
        pytest.fail("Chromium is not installed: `make test` installs the Debian package `chromium`")
    return found


@pytest.fixture(scope="module")
def server(built_book):
    handler = functools.partial(_QuietHandler, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def _pages(html_root: Path) -> list[Path]:
    return sorted(
        p
        for p in html_root.rglob("*.html")
        if not (set(p.relative_to(html_root).parts[:-1]) & SKIP_DIRS) and p.name not in {"genindex.html"}
    )


def _ids(path: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8")))


def _console_error(message, events: list[str]) -> None:
    """Record a console error with the URL it concerns. Chromium's own request for /favicon.ico (made
    by the browser, not by the page, which links its icon) is not the book's: it is left out."""
    if message.type != "error":
        return
    url = (message.location or {}).get("url", "")
    if "Failed to load resource" in message.text and urlparse(url).path == "/favicon.ico":
        return
    events.append(f"console {message.type}: {message.text} ({url or 'no url'})")


@pytest.mark.book
@pytest.mark.slow
def test_every_page_in_a_real_browser(built_book, server):
    from playwright import sync_api  # part of the dev extra: a missing install is a failure, not a skip

    pages = _pages(built_book)
    assert len(pages) >= 2
    problems: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        events: list[str] = []
        page.on("console", lambda m: _console_error(m, events))
        page.on("pageerror", lambda e: events.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: events.append(f"request failed: {r.url}"))
        page.on("response", lambda r: events.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
        page.on(
            "request",
            lambda r: (
                events.append(f"external request: {r.url}")
                if urlparse(r.url).hostname not in {"127.0.0.1", None} and not r.url.startswith("data:")
                else None
            ),
        )
        for path in pages:
            rel = path.relative_to(built_book).as_posix()
            url = urljoin(server, rel)
            events.clear()
            response = page.goto(url, wait_until="networkidle")
            if response is None or response.status != 200:
                problems.append(f"{rel}: HTTP {None if response is None else response.status}")
                continue
            # index.html redirects to the root page: resolve links against where the browser ended up.
            landed = urlparse(page.url).path.lstrip("/")
            path = built_book / unquote(landed) if landed else built_book / "index.html"
            rel = path.relative_to(built_book).as_posix()
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.getAttribute('src'), e.complete && e.naturalWidth > 0])"
            )
            problems += [f"{rel}: image did not load: {src}" for src, ok in images if not ok]
            links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
            for href in links:
                parsed = urlparse(href)
                if parsed.scheme or href.startswith("mailto:") or href.startswith("//"):
                    continue  # external: not followed (the machine is offline)
                target = (path.parent / unquote(parsed.path)).resolve() if parsed.path else path
                if target.is_dir():
                    target = target / "index.html"
                if not target.exists():
                    problems.append(f"{rel}: broken link {href}")
                elif parsed.fragment and target.suffix == ".html" and parsed.fragment not in _ids(target):
                    problems.append(f"{rel}: link {href} points to a missing anchor")
            problems += [f"{rel}: {e}" for e in events]
            if rel == "intro.html":
                page.screenshot(path=str(SHOTS / "home.png"), full_page=False)
        report_pages = [p for p in pages if "report" in p.as_posix()] or [
            p for p in pages if p.name != "intro.html"
        ]
        page.goto(
            urljoin(server, report_pages[0].relative_to(built_book).as_posix()), wait_until="networkidle"
        )
        page.screenshot(path=str(SHOTS / "report.png"), full_page=True)
        browser.close()
    assert not problems, "\n".join(problems)
    assert (SHOTS / "home.png").stat().st_size > 10_000


READY = ("project_air", "change_programme", "leadership_programme", "crisis_pathway")
WIDTHS = (1280, 400)


@pytest.fixture(scope="module")
def standalone_reports(tmp_path_factory, evaluations):
    """The output folder of every ready protocol (report.html with its figures embedded)."""
    from evaltoolkit.report import write_outputs

    out = {}
    for name in READY:
        folder = tmp_path_factory.mktemp(f"browser_{name}")
        write_outputs(evaluations[name], folder, command="browser test")
        out[name] = folder / "report.html"
    return out


@pytest.mark.slow
def test_standalone_reports_in_a_real_browser(standalone_reports):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Chromium is not installed (`make chromium` installs the Debian package)")
    from playwright import sync_api

    problems: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for width in WIDTHS:
            context = browser.new_context(viewport={"width": width, "height": 900})
            page = context.new_page()
            events: list[str] = []
            page.on("console", lambda m, events=events: _console_error(m, events))
            page.on("pageerror", lambda e, events=events: events.append(f"page error: {e}"))
            page.on(
                "request",
                lambda r, events=events: (
                    events.append(f"request leaving the page: {r.url}")
                    if not r.url.startswith(("data:", "file:"))
                    else None
                ),
            )
            for name, path in standalone_reports.items():
                events.clear()
                page.goto(path.as_uri(), wait_until="load")
                where = f"{name} at {width} px"
                images = page.eval_on_selector_all(
                    "img", "els => els.map(e => [e.getAttribute('alt'), e.complete && e.naturalWidth > 0])"
                )
                if not images:
                    problems.append(f"{where}: no figures")
                problems += [f"{where}: figure did not load: {alt}" for alt, ok in images if not ok]
                targets = page.eval_on_selector_all(
                    "a[href^='#']", "els => els.map(e => e.getAttribute('href').slice(1))"
                )
                missing = page.evaluate("ids => ids.filter(i => !document.getElementById(i))", targets)
                problems += [f"{where}: link to a missing anchor #{i}" for i in missing]
                banner = page.query_selector(".banner.synthetic")
                if banner is None or not banner.is_visible() or banner.bounding_box()["y"] > 900:
                    problems.append(f"{where}: the synthetic-data banner is not on the first screen")
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                if overflow > 1:
                    problems.append(f"{where}: the page scrolls sideways by {overflow} px")
                problems += [f"{where}: {e}" for e in events]
                page.screenshot(path=str(SHOTS / f"report_{name}_{width}.png"), full_page=False)
                page.screenshot(path=str(SHOTS / f"report_{name}_{width}_full.png"), full_page=True)
            context.close()
        browser.close()
    assert not problems, "\n".join(problems)
    for name in READY:
        for width in WIDTHS:
            assert (SHOTS / f"report_{name}_{width}.png").stat().st_size > 10_000
