"""The rendered site and slides: built from the committed notebooks, checked offline and in a
real browser (headless Chromium from the system, driven by Playwright).

The browser tests skip, saying why, only where Chromium is not installed (`make test` installs
Debian's package when it runs as root). Screenshots land in build/screenshots/ for review.
"""

import functools
import http.server
import re
import shutil
import threading
from pathlib import Path

import nbformat
import pytest

from tools.build_site import BUILD, ROOT, SESSION_ORDER, build, notebooks

NOTEBOOKS = notebooks()
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]

# Installed before the page's scripts run: make every TeX error an error (MathJax 2 would
# otherwise render undefined macros in red and carry on) and record each one.
MATHJAX_PROBE = """
window.__mathErrors = [];
window.MathJax = {
  TeX: {noErrors: {disabled: true}, noUndefined: {disabled: true}},
  AuthorInit: function () {
    MathJax.Hub.Register.MessageHook("TeX Jax - parse error",
      function (m) { window.__mathErrors.push(String(m[1])); });
    MathJax.Hub.Register.MessageHook("Math Processing Error",
      function (m) { window.__mathErrors.push("processing error: " + String(m[2])); });
  }
};"""


@pytest.fixture(scope="module")
def site():
    return build(BUILD, slides=True)


@pytest.fixture(scope="module")
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(BUILD)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (as root, `make test` runs "
                    "`apt-get install chromium`); the browser checks did not run")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser, url):
    """Open ``url``; return the page and the list that collects its problems as they happen."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    page.add_init_script(MATHJAX_PROBE)
    page.goto(url)
    page.wait_for_function("window.MathJax && MathJax.isReady", timeout=30_000)
    page.evaluate("new Promise(done => MathJax.Hub.Queue(() => done(true)))")
    # A 404 also logs a console error without its URL: the response handler above has already
    # recorded every 404 but the browser's own favicon request, so drop the anonymous copies.
    problems[:] = [p for p in problems if "status of 404" not in p]
    return page, problems


def png_outputs(path):
    nb = nbformat.read(path, as_version=4)
    return sum("image/png" in out.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for out in c.outputs)


def test_index_links_every_notebook_and_deck(site):
    index = (BUILD / "index.html").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f'href="{path.stem}.html"' in index and (BUILD / f"{path.stem}.html").exists()
        assert f'href="slides/{path.stem}.slides.html"' in index
        assert (BUILD / "slides" / f"{path.stem}.slides.html").exists()


def test_reading_group_plan_covers_every_post_once():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    plan = re.findall(r"^\| \d \| (\d\d) ", readme, re.M)
    assert plan == SESSION_ORDER, "README's session table and build_site.SESSION_ORDER differ"
    assert sorted(plan) == [f"{i:02d}" for i in range(1, 9)]


def test_pages_load_nothing_from_the_network(site):
    remote = re.compile(r"""<(script|link|img)\b[^>]*\b(src|href)=["']https?://""", re.I)
    for page in site:
        text = page.read_text(encoding="utf-8")
        assert not remote.search(text), f"{page.name} loads {remote.search(text)[0]}..."
        assert "fonts.googleapis" not in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_page_renders_in_chromium(path, server, browser):
    page, problems = open_page(browser, server + f"{path.stem}.html")
    math_errors = page.evaluate("window.__mathErrors")
    typeset = page.evaluate("document.querySelectorAll('.MathJax_CHTML').length")
    images = page.evaluate("document.images.length")
    broken = page.evaluate(
        "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length")
    shots = BUILD / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / f"{path.stem}.png"))
    page.close()
    assert not math_errors, f"MathJax errors: {math_errors}"
    assert typeset > 0, "MathJax typeset no formula"
    assert broken == 0, f"{broken} images failed to load"
    assert images >= png_outputs(path), "fewer images on the page than PNG outputs"
    assert not problems, problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_slides_open_in_chromium(path, server, browser):
    page, problems = open_page(browser, server + f"slides/{path.stem}.slides.html")
    # reveal.js is loaded as an AMD module (no global); it marks its root "ready" when set up
    page.wait_for_selector(".reveal.ready", state="attached", timeout=30_000)
    slides = page.evaluate("document.querySelectorAll('.reveal .slides section:not(:has(section))').length")
    math_errors = page.evaluate("window.__mathErrors")
    page.close()
    nb = nbformat.read(path, as_version=4)
    marked = sum(c.metadata.get("slideshow", {}).get("slide_type") in ("slide", "subslide")
                 for c in nb.cells)
    assert marked >= 5, "too few cells carry slideshow metadata (run tools/run_notebooks.py)"
    assert slides >= marked, f"{slides} slides for {marked} slide cells"
    assert not math_errors, f"MathJax errors: {math_errors}"
    assert not problems, problems
