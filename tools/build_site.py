"""Render the committed notebooks as a book and as teaching decks, both working offline.

    python tools/build_site.py            # the book: build/html/index.html
    python tools/build_site.py --slides   # also the decks: build/html/slides/NN_slug.slides.html

Nothing is executed: both show the committed outputs.

* **The book** is made by Jupyter Book 1 (Sphinx, MyST-NB, the book theme): a sidebar with the
  eight notebooks and the reading-group plan, previous/next, search, per-page contents, dark mode,
  download and Binder buttons. Its source (``build/book/``) is generated here from the notebooks'
  own title cells (:func:`title_card`) and the README's session plan, so it cannot drift from them.
  Cells tagged ``notes`` (speaker notes) are left out of the book.
* **The decks** are one reveal.js deck per notebook for a 60-minute session (:func:`teaching_deck`):
  the Markdown and the printed result of each check, figures each on a slide with their caption,
  the code left to the book (one click away), speaker notes from the ``notes`` cells, and long
  Markdown split into continuation slides so that every slide fits the 1280x720 frame.

MathJax 2 and reveal.js come from node_modules/ (``npm ci``, run by the Makefile); no page loads
anything from a CDN.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
SITE = BUILD / "html"
NODE = ROOT / "node_modules"
MATHJAX = "MathJax.js?config=TeX-AMS_CHTML-full,Safe"
REPOSITORY = "https://github.com/scientific-spaces/notebooks"
BINDER = "https://mybinder.org/v2/gh/scientific-spaces/notebooks/main?labpath=notebooks/{name}"

# The reading-group order (README, "Reading group"): each session leans on the one before.
SESSION_ORDER = ["05", "04", "02", "03", "01", "07", "08", "06"]

# Deck geometry: reveal.js lays every slide out in this frame and scales the frame to the screen.
DECK_WIDTH, DECK_HEIGHT = 1280, 720
# How much Markdown one slide holds before a continuation slide starts, in text lines of about
# 95 characters at the deck's font size (a display equation counts as 2.5 lines, a table row 1.2).
SLIDE_LINES = 15.0


@dataclass(frozen=True)
class Edition:
    """One language of the book and the decks: where its notebooks are, where its pages go, and
    the few words that the generator writes itself."""
    lang: str            # Sphinx language code
    notebooks: Path
    site: str            # folder of the edition under build/html ("" for the English one)
    readme: str          # the README that holds its reading-group plan
    plan_heading: str    # that section's heading
    one_line: str        # the title cell's label before the one-line summary
    words: dict


EN = Edition("en", ROOT / "notebooks", "", "README.md", "Reading group", "**In one line:**", {
    "switch": "中文", "title": "Scientific Spaces notebooks",
    "author": "The Scientific Spaces notebooks team (posts by Su Jianlin)",
    "intro": ("Eight posts from Su Jianlin's blog [Scientific Spaces](https://kexue.fm) (科学空间), "
              "re-derived step\nby step; every step is checked by a computation that can fail, for "
              "any seed and on any CPU."),
    "columns": "| # | notebook | post date | in one line | teach, read |",
    "deck": "deck", "post": "post", "order": "Reading-group order", "plan": "the session plan",
    "plan_title": "Reading group: eight sessions", "the_post": "the post on kexue.fm",
    "teaching_deck": "teaching deck", "binder": "run on Binder", "plan_link": "reading-group plan",
    "continued": "(continued)",
    "book_link": "The code of every check, and the whole notebook: <a href=\"{page}\">the book page</a>."})
ZH = Edition("zh_CN", ROOT / "notebooks" / "zh", "zh", "README.zh.md", "八次读书会", "**一句话：**", {
    "switch": "English", "title": "科学空间笔记本",
    "author": "科学空间笔记本项目组（原文作者：苏剑林）",
    "intro": ("苏剑林博客[科学空间](https://kexue.fm)的八篇文章，逐步重新推导；每一步都由一个可能失败的"
              "计算来检查，\n对任何随机种子、在任何 CPU 上都成立。"),
    "columns": "| # | 笔记本 | 原文日期 | 一句话 | 授课、阅读 |",
    "deck": "讲稿", "post": "原文", "order": "读书会顺序", "plan": "八次读书会安排",
    "plan_title": "八次读书会", "the_post": "科学空间原文",
    "teaching_deck": "授课讲稿", "binder": "在 Binder 上运行", "plan_link": "读书会安排",
    "continued": "（续）",
    "book_link": "每个检查的代码和完整的笔记本：<a href=\"{page}\">书中的这一页</a>。"})
EDITIONS = (EN, ZH)


def edition_site(edition: Edition, site: Path = None) -> Path:
    site = SITE if site is None else site
    return site / edition.site if edition.site else site


@dataclass(frozen=True)
class TitleCard:
    number: str
    title: str
    date: str
    post_url: str
    one_line: str


def title_card(path: Path, label: str = EN.one_line) -> TitleCard:
    """Read the title cell: '# NN · Title', the post's kexue.fm link and date, and the one-line
    summary after ``label`` ('**In one line:**', or the edition's own)."""
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    if first.cell_type != "markdown":
        raise ValueError(f"{path.name}: the first cell must be the markdown title cell")
    text = first.source
    heading = re.search(r"^#\s+(\d\d)\s*·\s*(.+)$", text, re.M)
    url = re.search(r"https://kexue\.fm/archives/\d+", text)
    date = re.search(r"\b(20\d\d-\d\d-\d\d)\b", text)
    line = re.search(re.escape(label) + r"\s*(.+)", text)
    found = {"'# NN · Title'": heading, "kexue.fm link": url, "date": date, f"'{label}'": line}
    missing = [name for name, match in found.items() if match is None]
    if missing:
        raise ValueError(f"{path.name}: title cell lacks {', '.join(missing)}")
    return TitleCard(heading[1], heading[2].strip(), date[1], url[0], line[1].strip())


def notebooks(edition: Edition = EN) -> list[Path]:
    return sorted(edition.notebooks.glob("[0-9][0-9]_*.ipynb"))


def tags(cell) -> list[str]:
    return list(cell.metadata.get("tags", []))


def display_math_in_paragraph(markdown: str) -> list[str]:
    """The display-maths blocks (``$$ ... $$``) that touch a line of text. MyST, the book's parser,
    starts display maths only at a paragraph break: "text\n$$x$$" becomes text with stray dollars
    (Jupyter and nbviewer do not mind), so such a block needs a blank line on either side."""
    lines, found, start = markdown.split("\n"), [], None
    for i, line in enumerate(lines):
        if start is None and line.lstrip().startswith("$$"):
            start = i
        if start is not None and (line.count("$$") % 2 == 0 if i == start else "$$" in line):
            before = lines[start - 1].strip() if start else ""
            after = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if before or after:
                found.append(lines[start].strip()[:60])
            start = None
    return found


# --- assets --------------------------------------------------------------------------------------

# MathJax 2 ships every font and output processor; the CommonHTML output needs only the TeX fonts.
_UNUSED = {"unpacked", "test", "docs", "localization", "HTML-CSS", "SVG", "NativeMML", "PreviewHTML",
           "Asana-Math", "Gyre-Pagella", "Gyre-Termes", "Latin-Modern", "Neo-Euler", "STIX-Web",
           "png", "eot", "svg"}


def _unused_mathjax(folder: str, names: list[str]) -> list[str]:
    in_fonts = Path(folder).name == "fonts"  # fonts/HTML-CSS/TeX holds the web fonts we need
    return [n for n in names if n in _UNUSED and not (in_fonts and n == "HTML-CSS")]


def copy_mathjax(dest: Path) -> None:
    if not (NODE / "mathjax" / "MathJax.js").exists():
        raise SystemExit("node_modules/ is missing: run `npm ci` (make html does it)")
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(NODE / "mathjax", dest, ignore=_unused_mathjax)


def copy_deck_assets(assets: Path) -> None:
    """MathJax, require.js, jQuery and reveal.js for the decks, from node_modules/."""
    copy_mathjax(assets / "mathjax")
    shutil.copy(NODE / "requirejs" / "require.js", assets / "require.js")
    shutil.copy(NODE / "jquery" / "dist" / "jquery.min.js", assets / "jquery.min.js")
    for part in ("dist", "plugin"):
        shutil.rmtree(assets / "reveal.js" / part, ignore_errors=True)
        shutil.copytree(NODE / "reveal.js" / part, assets / "reveal.js" / part)


# --- the book ------------------------------------------------------------------------------------

BOOK_CSS = """
/* No automatic line breaks in math (they split table cells); wide equations scroll instead. */
div.math, .MathJax_Display, .cell_output pre { overflow-x: auto; max-width: 100%; }
table { display: block; overflow-x: auto; }
.ss-nav { font-size: 0.9em; margin: 0.2em 0 1.2em; }
.ss-lang { float: right; font-size: 0.9em; margin: 0 0 0.5em 1em; }
/* Long identifiers and headings wrap on a phone instead of widening the page. */
.bd-article code.literal, .bd-article h1, .bd-article h2, .bd-article h3, .bd-article p {
  overflow-wrap: anywhere; }
.bd-article code.literal span.pre { white-space: normal; }
"""


def _readme_section(title: str, readme: str = "README.md") -> str:
    """The README's '## <title>…' section, without its heading."""
    text = (ROOT / readme).read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}.*?\n(.*?)(?=^## )", text, re.M | re.S)
    if not match:
        raise ValueError(f"{readme} has no '## {title}' section")
    return match[1].strip()


def _nav_cell(path: Path, card: TitleCard, edition: Edition) -> nbformat.NotebookNode:
    w = edition.words
    links = [f'<a href="{card.post_url}">{w["the_post"]}</a>',
             f'<a href="../slides/{path.stem}.slides.html">{w["teaching_deck"]}</a>',
             f'<a href="{BINDER.format(name=path.relative_to(ROOT / "notebooks").as_posix())}">'
             f'{w["binder"]}</a>',
             f'<a href="../reading-group.html">{w["plan_link"]}</a>']
    return nbformat.v4.new_markdown_cell(f'<p class="ss-nav">{" · ".join(links)}</p>')


def book_source(src: Path, edition: Edition = EN) -> None:
    """Write the Jupyter Book source of one edition: config, contents, index, plan, notebooks."""
    w = edition.words
    shutil.rmtree(src, ignore_errors=True)
    (src / "notebooks").mkdir(parents=True)
    (src / "_static").mkdir()  # every .js and .css here is loaded by every page (Jupyter Book)
    copy_mathjax(src / "_extra" / "assets" / "mathjax")  # copied as is, loaded only as MathJax
    (src / "_static" / "book.css").write_text(BOOK_CSS, encoding="utf-8")
    cards = {}
    for path in notebooks(edition):
        card = cards[path.name[:2]] = title_card(path, edition.one_line)
        nb = nbformat.read(path, as_version=4)
        nb.cells = [c for c in nb.cells if "notes" not in tags(c)]
        nb.cells.insert(1, _nav_cell(path, card, edition))
        nbformat.write(nb, src / "notebooks" / path.name)
    stems = {p.name[:2]: p.stem for p in notebooks(edition)}
    rows = "\n".join(
        f"| {n} | [{c.title}](notebooks/{stems[n]}) | {c.date} | {c.one_line} | "
        f'<a href="slides/{stems[n]}.slides.html">{w["deck"]}</a> · '
        f'<a href="{c.post_url}">{w["post"]}</a> |'
        for n, c in sorted(cards.items()))
    order = " → ".join(f"[{n}](notebooks/{stems[n]})" for n in SESSION_ORDER if n in stems)
    (src / "index.md").write_text(f"""# {w["title"]}

{w["intro"]}

{w["columns"]}
|---|---|---|---|---|
{rows}

**{w["order"]}:** {order} ([{w["plan"]}](reading-group)).
{_untranslated(edition)}""", encoding="utf-8")
    (src / "reading-group.md").write_text(
        f"# {w['plan_title']}\n\n" + _readme_section(edition.plan_heading, edition.readme),
        encoding="utf-8")
    toc = {"format": "jb-book", "root": "index", "chapters": [{"file": "reading-group"}] + [
        {"file": f"notebooks/{stems[n]}"} for n in sorted(stems)]}
    (src / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")
    config = {
        "title": w["title"],
        "author": w["author"],
        "copyright": "2026",
        "only_build_toc_files": True,
        "execute": {"execute_notebooks": "off"},
        "repository": {"url": REPOSITORY, "branch": "main"},
        "launch_buttons": {"binderhub_url": "https://mybinder.org", "notebook_interface": "jupyterlab"},
        "html": {"use_repository_button": False, "use_edit_page_button": False,
                 "home_page_in_navbar": True},
        "parse": {"myst_enable_extensions": ["dollarmath", "amsmath", "html_image"]},
        "sphinx": {"config": {
            "language": edition.lang,
            "html_static_path": ["_static"],
            "html_extra_path": ["_extra"],
            "mathjax_path": f"../assets/mathjax/{MATHJAX}",  # relative to _static/
            # TeX errors shown as errors (not silently as source), and no automatic line breaks
            "mathjax2_config": {"CommonHTML": {"linebreaks": {"automatic": False},
                                               # typeset the page in one pass, no preview first
                                               "EqnChunk": 1000, "EqnChunkDelay": 0},
                                "fast-preview": {"disabled": True},
                                "TeX": {"noErrors": {"disabled": True},
                                        "noUndefined": {"disabled": True}},
                                # MyST-NB marks its own math spans; process those only
                                "tex2jax": {"processEscapes": True,
                                            "processClass": "tex2jax_process|mathjax_process|"
                                                            "math|output_area"}},
            "html_show_copyright": False,
            "html_context": {"default_mode": "auto"},  # light/dark follows the reader's system
            "suppress_warnings": ["myst.header", "mystnb.unknown_mime_type"],
        }},
    }
    (src / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
                                     encoding="utf-8")


def _untranslated(edition: Edition) -> str:
    """A line naming the notebooks that this edition does not have yet (with the English pages)."""
    done = {p.name for p in notebooks(edition)}
    missing = [p for p in notebooks(EN) if p.name not in done]
    if edition is EN or not missing:
        return ""
    links = "、".join(f'<a href="../notebooks/{p.stem}.html">{p.name[:2]}</a>' for p in missing)
    return f"\n尚未译成中文的笔记本（先读英文版）：{links}。\n"


def book_pages(site: Path) -> list[Path]:
    return [*site.glob("*.html"), *site.glob("notebooks/*.html")]


def build_book(site: Path = SITE, edition: Edition = EN) -> Path:
    """Build one edition's book into its folder of ``site`` (removed first); return that folder."""
    src = BUILD / ("book" + (f"-{edition.site}" if edition.site else ""))
    book_source(src, edition)
    cli = Path(sys.executable).with_name("jupyter-book")
    run = subprocess.run([str(cli), "build", str(src), "--path-output", str(src), "--keep-going",
                          "--quiet"], capture_output=True, text=True)
    out = src / "_build" / "html"
    if run.returncode != 0 or not (out / "index.html").exists():
        raise SystemExit(f"jupyter-book failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}")
    dest = edition_site(edition, site)
    if edition.site:
        shutil.rmtree(dest, ignore_errors=True)
    else:  # the English book is the site's root: keep the other editions' folders
        for entry in site.glob("*") if site.exists() else []:
            if entry.name not in {e.site for e in EDITIONS}:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    shutil.copytree(out, dest, dirs_exist_ok=True)
    for page in book_pages(dest):
        _drop_repeated_scripts(page)
        _add_language_switch(page, dest, edition)
    return dest


def counterpart(page: Path, edition_root: Path, edition: Edition) -> str:
    """Relative link from a page of one edition to the same page of the other (to the other's
    index where a notebook is not translated yet)."""
    rel = page.relative_to(edition_root).as_posix()
    up = "../" * rel.count("/")
    if edition is EN:
        translated = {f"notebooks/{p.stem}.html" for p in notebooks(ZH)}
        return f"{up}zh/{rel if not rel.startswith('notebooks/') or rel in translated else 'index.html'}"
    return f"{up}../{rel}"


def _add_language_switch(page: Path, edition_root: Path, edition: Edition) -> None:
    """A link to the other language's version of the page, above the article."""
    switch = (f'<p class="ss-lang"><a href="{counterpart(page, edition_root, edition)}" '
              f'hreflang="{"zh-CN" if edition is EN else "en"}">{edition.words["switch"]}</a></p>')
    text = page.read_text(encoding="utf-8")
    anchor = '<div class="bd-article-container">'
    if anchor not in text:
        raise SystemExit(f"{page}: no {anchor} to put the language switch in")
    page.write_text(text.replace(anchor, anchor + switch, 1), encoding="utf-8")


def _drop_repeated_scripts(page: Path) -> None:
    """Jupyter Book 1.0.4 writes sphinx-thebe's one-line ``<script>const THEBE_JS_URL …`` twice,
    which is a SyntaxError in the browser ("already been declared"); keep the first copy."""
    seen, lines = set(), []
    for line in page.read_text(encoding="utf-8").splitlines(keepends=True):
        key = line.strip()
        if key.startswith("<script>const ") and key in seen:
            continue
        seen.add(key)
        lines.append(line)
    page.write_text("".join(lines), encoding="utf-8")


# --- the decks -----------------------------------------------------------------------------------

def _width(line: str) -> int:
    """Display width in Latin characters: a CJK character or full-width sign takes two."""
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in line)


def _weight(markdown: str) -> float:
    """Rough rendered height of ``markdown`` in deck text lines (see SLIDE_LINES)."""
    text = re.sub(r"<details>.*?</details>", "<details/>", markdown, flags=re.S)
    total = 0.0
    for block in re.split(r"\$\$.*?\$\$", text, flags=re.S):
        for line in block.splitlines():
            if line.lstrip().startswith("|"):
                total += 0.0 if re.fullmatch(r"\s*\|[\s:|-]+\|\s*", line) else 1.2
            elif line.strip():
                total += max(1.0, _width(line) / 95)
    return total + 2.5 * len(re.findall(r"\$\$.*?\$\$", text, flags=re.S))


def _pieces(markdown: str) -> list[str]:
    """Split Markdown at blank lines and list items, never inside $$…$$, a table or <details>."""
    pieces, current, fence = [], [], 0
    for line in markdown.splitlines():
        opens = line.count("$$") % 2 + (line.count("<details>") - line.count("</details>"))
        starts_item = re.match(r"\s{0,2}(\d+\.|[-*])\s", line) is not None
        if fence == 0 and current and (not line.strip() or starts_item):
            pieces.append("\n".join(current).strip())
            current = []
        if line.strip() or fence:
            current.append(line)
        fence = (fence + opens) % 2 if "$$" in line else max(0, fence + opens)
    if current:
        pieces.append("\n".join(current).strip())
    return [p for p in pieces if p]


def _text_output(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def teaching_deck(nb: nbformat.NotebookNode, book_page: str,
                  edition: Edition = EN) -> nbformat.NotebookNode:
    """The deck of one notebook: a copy whose cells carry reveal.js slide types (see module doc).

    Headings open slides (``##``) and sub-slides (``###``), as the execution tool marked them;
    each figure opens a sub-slide with the Markdown caption after it; Markdown that would overflow
    the frame continues on a sub-slide headed by its step's title; ``notes`` cells move to the
    first slide of their step as speaker notes; code inputs are dropped (the book has them).
    """
    deck = copy.deepcopy(nb)
    cells, step_title, used, notes_at = [], "", 0.0, 0

    def open_slide(kind: str, title: str | None = None) -> None:
        nonlocal used
        if title is not None:
            cells.append(nbformat.v4.new_markdown_cell(
                f"#### {title} {edition.words['continued']}"))
            cells[-1].metadata["slideshow"] = {"slide_type": kind}
        used = 0.0

    for index, cell in enumerate(deck.cells):
        kind = cell.metadata.get("slideshow", {}).get("slide_type")
        if "notes" in tags(cell):
            cell.metadata["slideshow"] = {"slide_type": "notes"}
            cells.insert(notes_at, cell)  # onto the first slide of the step it belongs to
            notes_at += 1
            continue
        if cell.cell_type == "code":
            cell.source = ""
            if any("image/png" in o.get("data", {}) for o in cell.outputs):
                cell.outputs = [o for o in cell.outputs if "image/png" in o.get("data", {})]
                cell.metadata["slideshow"] = {"slide_type": "subslide"}
                cells.append(cell)
                used = 9.0  # a figure fills most of the frame; its caption may follow
                continue
            text = _text_output(cell)
            if not text.strip():
                continue
            lines = text.rstrip("\n").splitlines()
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
            need = 0.9 * len(lines) + 0.5
            if used + need > SLIDE_LINES and used > 0:
                open_slide("subslide", step_title)
            cell.metadata["slideshow"] = {"slide_type": "-"}
            cells.append(cell)
            used += need
            continue
        heading = re.match(r"(#{1,3})\s+(.*)", cell.source)
        if kind in ("slide", "subslide") or index == 0:
            if heading or index == 0:  # a new section or step (not a continuation cell)
                step_title = heading[2].strip() if heading else step_title
                notes_at = len(cells) + 1
            parts = _pieces(cell.source)
            first = []
            while parts and (not first or _weight("\n\n".join(first + parts[:1])) <= SLIDE_LINES):
                first.append(parts.pop(0))
            cell.source = "\n\n".join(first)
            cell.metadata["slideshow"] = {"slide_type": kind or "slide"}
            cells.append(cell)
            used = _weight(cell.source)
            rest = parts
        else:
            rest = _pieces(cell.source)
        for piece in rest:
            w = _weight(piece)
            if used + w > SLIDE_LINES and used > 0:
                open_slide("subslide", step_title)
            cells.append(nbformat.v4.new_markdown_cell(piece))
            cells[-1].metadata["slideshow"] = {"slide_type": "-"}
            used += w
    link = nbformat.v4.new_markdown_cell(
        f'<p class="deck-book">{edition.words["book_link"].format(page=book_page)}</p>')
    link.metadata["slideshow"] = {"slide_type": "-"}
    cells.insert(1, link)
    deck.cells = cells
    return deck


def deck_exporter(prefix: str):
    from nbconvert import SlidesExporter

    return SlidesExporter(
        extra_template_basedirs=[str(ROOT / "tools" / "templates")],
        template_name="offline_slides",
        reveal_url_prefix=prefix + "assets/reveal.js",
        reveal_theme="white",  # its fonts ship with reveal.js; "simple" imports Google Fonts
        reveal_width=str(DECK_WIDTH),
        reveal_height=str(DECK_HEIGHT),
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        mathjax_url=prefix + "assets/mathjax/" + MATHJAX,
        require_js_url=prefix + "assets/require.js",
        jquery_url=prefix + "assets/jquery.min.js",
    )


def build_decks(site: Path = SITE, edition: Edition = EN) -> list[Path]:
    """One edition's decks into its slides/ folder; the assets are shared, at the site's root."""
    root = edition_site(edition, site)
    if edition is EN:
        copy_deck_assets(site / "assets")  # the book's MathJax copy is replaced by an equal one
    (root / "slides").mkdir(parents=True, exist_ok=True)
    exporter = deck_exporter("../" * (1 + bool(edition.site)))
    decks = []
    for path in notebooks(edition):
        nb = teaching_deck(nbformat.read(path, as_version=4), f"../notebooks/{path.stem}.html",
                           edition)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        if edition is not EN:  # for the browser's choice of CJK glyphs
            body = body.replace('<html lang="en">', f'<html lang="{edition.lang.replace("_", "-")}">', 1)
        decks.append(root / "slides" / f"{path.stem}.slides.html")
        decks[-1].write_text(body, encoding="utf-8")
    return decks


def build(site: Path = SITE, slides: bool = False) -> list[Path]:
    """Build both editions' books (and decks); return the notebook pages and decks."""
    pages = []
    for edition in EDITIONS:
        root = build_book(site, edition)
        pages += [root / "notebooks" / f"{p.stem}.html" for p in notebooks(edition)]
    for edition in EDITIONS if slides else ():
        pages += build_decks(site, edition)
    return pages


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slides", action="store_true", help="also render the teaching decks")
    args = parser.parse_args(argv)
    for page in build(SITE, args.slides):
        print(f"rendered {page.relative_to(SITE)}")
    print(f"open {SITE / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
