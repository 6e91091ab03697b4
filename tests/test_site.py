"""The book and the teaching decks: built from the committed notebooks, checked offline and in a
real browser (headless Chromium from the system, driven by Playwright).

The browser tests skip, saying why, only where Chromium is not installed (`make test` installs
Debian's package when it runs as root). Screenshots, and a report of every deck's slide count and
tallest slide (decks.json), land in build/screenshots/ for review.
"""

import functools
import http.server
import json
import re
import shutil
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from tools.build_site import (BUILD, DECK_HEIGHT, DECK_WIDTH, EDITIONS, EN, ROOT, SESSION_ORDER, SITE,
                              ZH, build, edition_site, notebooks)

NOTEBOOKS = notebooks()
# Fonts that hold the Han characters (the test set-up installs WenQuanYi Zen Hei).
CJK_FONT = re.compile(r"WenQuanYi|Noto (Sans|Serif) CJK|Source Han|Droid Sans Fallback|AR PL|"
                      r"SimSun|SimHei|PingFang|Hiragino|Heiti", re.I)
SHOTS = BUILD / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]

# For the decks (nbconvert's template sets no MathJax config of its own): installed before the
# page's scripts run, it makes every TeX error an error and records each one.
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

# For the book (its config already turns TeX errors into error boxes): every math element was
# typeset, and none holds an error.
BOOK_MATH = """() => {
  const math = Array.from(document.querySelectorAll('span.math, div.math'));
  return {
    total: math.length,
    untypeset: math.filter(m => !m.querySelector('.MathJax_CHTML, .MathJax_Display')).length,
    errors: document.querySelectorAll('.mjx-merror').length
            + (document.body.innerText.includes('Math Processing Error') ? 1 : 0),
  };
}"""


@pytest.fixture(scope="module")
def site():
    return build(SITE, slides=True)


@pytest.fixture(scope="module")
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(SITE)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (as root, `make test` runs "
                    "`apt-get install chromium`); the browser checks did not run")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser, url, width=1366, height=768, probe=False):
    """Open ``url``; return the page and the list that collects its problems as they happen."""
    page = browser.new_page(viewport={"width": width, "height": height})
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    if probe:
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


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.urls.append((tag, value))


def links(page: Path) -> list[tuple[str, str]]:
    parser = Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.urls


def site_pages() -> list[Path]:
    """Every page a reader can open, in both languages: the book's own pages, the notebooks and
    the decks."""
    return [page for edition in EDITIONS for folder in ("", "notebooks/", "slides/")
            for page in sorted(edition_site(edition).glob(folder + "*.html"))]


def book_pages(edition) -> list[str]:
    root = edition_site(edition)
    return sorted(p.relative_to(root).as_posix() for p in [*root.glob("*.html"),
                                                           *root.glob("notebooks/*.html")])


@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.lang)
def test_index_links_every_notebook_and_deck(site, edition):
    root = edition_site(edition)
    index = (root / "index.html").read_text(encoding="utf-8")
    for path in notebooks(edition):
        assert f'href="notebooks/{path.stem}.html"' in index
        assert f'href="slides/{path.stem}.slides.html"' in index
        assert (root / "notebooks" / f"{path.stem}.html").exists()
        assert (root / "slides" / f"{path.stem}.slides.html").exists()


def test_both_languages_have_the_same_pages_and_every_page_a_switch(site):
    translated = {f"notebooks/{p.stem}.html" for p in notebooks(ZH)}
    assert set(book_pages(ZH)) == {p for p in book_pages(EN)
                                   if not p.startswith("notebooks/") or p in translated}
    for edition in EDITIONS:
        for name in book_pages(edition):
            text = (edition_site(edition) / name).read_text(encoding="utf-8")
            assert f'>{edition.words["switch"]}</a></p>' in text, f"{name}: no language switch"
    assert '<html lang="zh-CN"' in (SITE / "zh" / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("readme", ["README.md", "README.zh.md"])
def test_reading_group_plan_covers_every_post_once(readme):
    text = (ROOT / readme).read_text(encoding="utf-8")
    plan = re.findall(r"^\| \d \| (\d\d) ", text, re.M)
    assert plan == SESSION_ORDER, f"{readme}'s session table and build_site.SESSION_ORDER differ"
    assert sorted(plan) == [f"{i:02d}" for i in range(1, 9)]


def test_pages_load_nothing_from_the_network(site):
    for page in site_pages():
        for tag, url in links(page):
            if tag in ("script", "link", "img", "iframe"):
                assert not url.startswith(("http:", "https:", "//")), f"{page.name} loads {url}"
        assert "fonts.googleapis" not in page.read_text(encoding="utf-8")


def test_no_stray_dollars_around_formulas(site):
    """A formula the book's parser split wrongly shows its dollars as text next to a math span
    (e.g. "text\n$$x$$" inside a paragraph)."""
    for page in site_pages():
        text = page.read_text(encoding="utf-8")
        for stray in ('$<span class="math', '</span>$', '$<div class="math'):
            assert stray not in text, f"{page.relative_to(SITE)}: {stray!r}"


def test_every_local_link_resolves(site):
    """Navigation (sidebar, previous/next, index, decks' book links) and assets all exist."""
    broken = []
    for page in site_pages():
        for _, url in links(page):
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or not parts.path or url.startswith(("#", "data:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if not target.exists():
                broken.append(f"{page.relative_to(SITE)} -> {url}")
    assert not broken, broken[:20]


@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.lang)
def test_book_pages_carry_navigation(site, edition):
    for path in notebooks(edition):
        text = (edition_site(edition) / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
        assert "kexue.fm/archives/" in text and "mybinder.org" in text
        assert f"../slides/{path.stem}.slides.html" in text, "no link to the deck"
        for other in set(notebooks(edition)) - {path}:  # the sidebar lists every other notebook
            assert f"{other.stem}.html" in text
        assert "prev-next" in text or path == notebooks(edition)[-1], "no previous/next links"
    root = edition_site(edition)
    assert (root / "search.html").exists() and (root / "searchindex.js").exists()


def platform_fonts(page, selector: str) -> list[str]:
    """The fonts Chromium really used for the text of the first element matching ``selector``."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]  # querySelector needs no tree
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    assert node, f"no element {selector}"
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return [f["familyName"] for f in fonts if f["glyphCount"] > 0]


PAGES = [f"{e.site}/" * bool(e.site) + name for e in EDITIONS
         for name in ["index", "reading-group"] + [f"notebooks/{p.stem}" for p in notebooks(e)]]


@pytest.mark.parametrize("name", PAGES)
def test_book_page_renders_in_chromium(name, server, browser):
    page, problems = open_page(browser, server + f"{name}.html")
    math = page.evaluate(BOOK_MATH)
    broken = page.evaluate(
        "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length")
    images = page.evaluate("document.images.length")
    fonts = platform_fonts(page, "article.bd-article h1") if name.startswith("zh/") else []
    shot = name.replace("/", "_")
    page.screenshot(path=str(SHOTS / f"{shot}.png"))
    # The phone: the same page narrowed to 390 px (the theme's layout follows media queries; the
    # maths is typeset once, without automatic line breaks, so its width does not change).
    page.set_viewport_size({"width": 390, "height": 844})
    fits = "document.documentElement.scrollWidth <= window.innerWidth + 1"
    try:  # the theme settles its layout after a resize; give it a moment
        page.wait_for_function(fits, timeout=5_000)
    except Exception:  # noqa: BLE001 - measured and reported below
        pass
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path=str(SHOTS / f"{shot}.phone.png"))
    page.close()
    assert math["errors"] == 0, f"{math['errors']} MathJax errors"
    assert math["untypeset"] == 0, f"{math['untypeset']} of {math['total']} formulas not typeset"
    assert broken == 0, f"{broken} images failed to load"
    if name.startswith("zh/"):
        assert any(CJK_FONT.search(f) for f in fonts), f"the Chinese title is drawn in {fonts}"
    if "notebooks/" in name:
        assert math["total"] > 0, "no formula on the page"
        path = ROOT / "notebooks" / f"{Path(name).name}.ipynb"
        assert images >= png_outputs(path), "fewer images on the page than PNG outputs"
    assert overflow <= 1, f"the page is {overflow} px wider than a 390 px phone screen"
    assert not problems, problems


DECK_REPORT: dict[str, dict] = {}


DECKS = [(e, p) for e in EDITIONS for p in notebooks(e)]


@pytest.mark.parametrize("edition,path", DECKS, ids=[f"{e.lang}-{p.stem}" for e, p in DECKS])
def test_deck_fits_the_frame_and_has_notes(edition, path, server, browser):
    prefix = f"{edition.site}/" if edition.site else ""
    page, problems = open_page(browser, server + f"{prefix}slides/{path.stem}.slides.html",
                               width=DECK_WIDTH, height=DECK_HEIGHT, probe=True)
    page.wait_for_function("window.deckReady === true", timeout=30_000)
    fit = page.evaluate("window.deckFit")
    wide = page.evaluate("""() => Array.from(document.querySelectorAll(
        '.reveal pre, .reveal img, .reveal table')).filter(e => e.scrollWidth > e.clientWidth + 1
        || e.getBoundingClientRect().width > %d).length""" % DECK_WIDTH)
    steps = page.evaluate("""() => Array.from(document.querySelectorAll('.reveal .slides section'))
        .filter(s => !s.querySelector('section') && s.querySelector(':scope > div h3, h3'))
        .map(s => ({id: s.id, notes: !!s.querySelector('aside.notes'),
                    title: s.querySelector('h3').textContent.trim().slice(0, 60)}))""")
    math_errors = page.evaluate("window.__mathErrors")
    fonts = platform_fonts(page, ".reveal .slides section h1") if edition is not EN else []
    page.screenshot(path=str(SHOTS / f"{prefix.replace('/', '_')}{path.stem}.deck.png"))
    page.close()
    DECK_REPORT[prefix + path.stem] = {"slides": len(fit), "tallest_px": max(f["height"] for f in fit),
                              "zoomed": sum(f["zoom"] < 1 for f in fit),
                              "steps": len(steps), "steps_with_notes": sum(s["notes"] for s in steps)}
    (SHOTS / "decks.json").write_text(json.dumps(DECK_REPORT, indent=1))
    unfit = [f for f in fit if not f["fitted"]]
    assert not unfit, f"{len(unfit)} slides taller than {DECK_HEIGHT} px: {unfit[:5]}"
    assert wide == 0, f"{wide} code/output/table blocks are clipped at the right edge"
    missing = [s["title"] for s in steps if not s["notes"]]
    assert not missing, f"step slides without speaker notes: {missing}"
    nb = nbformat.read(path, as_version=4)
    marked = sum(c.metadata.get("slideshow", {}).get("slide_type") in ("slide", "subslide")
                 for c in nb.cells)
    assert marked >= 5, "too few cells carry slideshow metadata (run tools/run_notebooks.py)"
    assert len(fit) >= marked, f"{len(fit)} slides for {marked} slide cells"
    assert not math_errors, f"MathJax errors: {math_errors}"
    if edition is not EN:
        assert any(CJK_FONT.search(f) for f in fonts), f"the Chinese title is drawn in {fonts}"
    assert not problems, problems
