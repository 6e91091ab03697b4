"""Render the committed notebooks to a static site under build/ that works offline.

    python tools/build_site.py            # build/index.html, build/NN_slug.html
    python tools/build_site.py --slides   # also build/slides/NN_slug.slides.html (reveal.js)

Nothing is executed: the pages show the committed outputs. MathJax, require.js and reveal.js are
copied from node_modules/ (``npm ci``, run by the Makefile) into build/assets/, so the pages load
nothing from a CDN. The index is made from the notebooks' own title cells (``title_card``), so it
cannot drift from them.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter, SlidesExporter

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
NODE = ROOT / "node_modules"
MATHJAX = "assets/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"

# The reading-group order (README, "Reading group"): each session leans on the one before.
SESSION_ORDER = ["05", "04", "02", "03", "01", "07", "08", "06"]


@dataclass(frozen=True)
class TitleCard:
    number: str
    title: str
    date: str
    post_url: str
    one_line: str


def title_card(path: Path) -> TitleCard:
    """Read the title cell: '# NN · Title', the post's kexue.fm link and date, '**In one line:**'."""
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    if first.cell_type != "markdown":
        raise ValueError(f"{path.name}: the first cell must be the markdown title cell")
    text = first.source
    heading = re.search(r"^#\s+(\d\d)\s*·\s*(.+)$", text, re.M)
    url = re.search(r"https://kexue\.fm/archives/\d+", text)
    date = re.search(r"\b(20\d\d-\d\d-\d\d)\b", text)
    line = re.search(r"\*\*In one line:\*\*\s*(.+)", text)
    found = {"'# NN · Title'": heading, "kexue.fm link": url, "date": date,
             "'**In one line:**'": line}
    missing = [name for name, match in found.items() if match is None]
    if missing:
        raise ValueError(f"{path.name}: title cell lacks {', '.join(missing)}")
    return TitleCard(heading[1], heading[2].strip(), date[1], url[0], line[1].strip())


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


# MathJax 2 ships every font and output processor; the CommonHTML output needs only the TeX fonts.
_UNUSED = {"unpacked", "test", "docs", "localization", "HTML-CSS", "SVG", "NativeMML", "PreviewHTML",
           "Asana-Math", "Gyre-Pagella", "Gyre-Termes", "Latin-Modern", "Neo-Euler", "STIX-Web",
           "png", "eot", "svg"}


def _unused_mathjax(folder: str, names: list[str]) -> list[str]:
    in_fonts = Path(folder).name == "fonts"  # fonts/HTML-CSS/TeX holds the web fonts we need
    return [n for n in names if n in _UNUSED and not (in_fonts and n == "HTML-CSS")]


def copy_assets(build: Path) -> None:
    """Copy the JavaScript the pages need from node_modules/ (MathJax 2 with its TeX fonts only)."""
    if not (NODE / "mathjax" / "MathJax.js").exists():
        raise SystemExit("node_modules/ is missing: run `npm ci` (make html does it)")
    assets = build / "assets"
    shutil.rmtree(assets, ignore_errors=True)
    shutil.copytree(NODE / "mathjax", assets / "mathjax", ignore=_unused_mathjax)
    shutil.copy(NODE / "requirejs" / "require.js", assets / "require.js")
    shutil.copy(NODE / "jquery" / "dist" / "jquery.min.js", assets / "jquery.min.js")
    for part in ("dist", "plugin"):
        shutil.copytree(NODE / "reveal.js" / part, assets / "reveal.js" / part)


def exporter(slides: bool, prefix: str) -> HTMLExporter:
    """nbconvert's lab (or reveal) template, pointed at the local assets under ``prefix``."""
    common = dict(mathjax_url=prefix + MATHJAX, require_js_url=prefix + "assets/require.js",
                  jquery_url=prefix + "assets/jquery.min.js")
    if not slides:
        return HTMLExporter(template_name="lab", **common)
    return SlidesExporter(
        extra_template_basedirs=[str(ROOT / "tools" / "templates")],
        template_name="offline_slides",
        reveal_url_prefix=prefix + "assets/reveal.js",
        reveal_scroll=True,
        reveal_theme="white",  # its fonts ship with reveal.js; "simple" imports Google Fonts
        **common,
    )


def index_page(cards: dict[str, tuple[TitleCard, Path]], slides: bool) -> str:
    def row(card: TitleCard, path: Path) -> str:
        deck = (f' · <a href="slides/{path.stem}.slides.html">slides</a>' if slides else "")
        return (f'<tr><td>{card.number}</td><td><a href="{path.stem}.html">'
                f"{html.escape(card.title)}</a>{deck}</td><td>{card.date}</td>"
                f'<td>{html.escape(card.one_line)}</td><td><a href="{card.post_url}">kexue.fm</a>'
                "</td></tr>")

    rows = "\n".join(row(*cards[n]) for n in sorted(cards))
    order = " → ".join(f'<a href="{cards[n][1].stem}.html">{n}</a>'
                       for n in SESSION_ORDER if n in cards)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Scientific Spaces notebooks</title>
<style>body{{font-family:sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;line-height:1.4}}
td,th{{padding:.35rem .6rem;vertical-align:top;text-align:left}}
tr:nth-child(even){{background:#f4f4f4}}</style>
</head><body>
<h1>Scientific Spaces notebooks</h1>
<p>Eight posts from Su Jianlin's blog <a href="https://kexue.fm">Scientific Spaces</a> (科学空间),
re-derived step by step, every step checked by a computation that can fail.</p>
<table><tr><th>#</th><th>notebook</th><th>post date</th><th>in one line</th><th>original</th></tr>
{rows}
</table>
<p><b>Reading-group order:</b> {order} (see the README for the session plan).</p>
</body></html>
"""


def build(out: Path = BUILD, slides: bool = False, paths: list[Path] | None = None) -> list[Path]:
    """Render the notebooks (default: all) and their slides into ``out``; return the pages."""
    out.mkdir(parents=True, exist_ok=True)
    copy_assets(out)
    pages, cards = [], {}
    page_exporter = exporter(False, "")
    for path in notebooks() if paths is None else paths:
        cards[path.name[:2]] = (title_card(path), path)
        body, _ = page_exporter.from_filename(str(path))
        pages.append(out / f"{path.stem}.html")
        pages[-1].write_text(body, encoding="utf-8")
        if slides:
            (out / "slides").mkdir(exist_ok=True)
            deck, _ = exporter(True, "../").from_filename(str(path))
            pages.append(out / "slides" / f"{path.stem}.slides.html")
            pages[-1].write_text(deck, encoding="utf-8")
    (out / "index.html").write_text(index_page(cards, slides), encoding="utf-8")
    return pages


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slides", action="store_true", help="also render reveal.js decks")
    parser.add_argument("--out", type=Path, default=BUILD, help="output folder (default build/)")
    args = parser.parse_args(argv)
    for page in build(args.out, args.slides):
        print(f"rendered {page.relative_to(args.out)}")
    print(f"open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
