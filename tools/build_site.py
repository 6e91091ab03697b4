"""Render the committed notebooks to a static site under build/ (no execution).

    python tools/build_site.py            # build/index.html + build/NN_slug.html

The index is made from the notebooks' own title cells (see ``title_card``), so it cannot drift
from them.
"""

from __future__ import annotations

import html
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"


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
    missing = [
        name
        for name, m in [("'# NN · Title'", heading), ("kexue.fm link", url), ("date", date),
                        ("'**In one line:**'", line)]
        if m is None
    ]
    if missing:
        raise ValueError(f"{path.name}: title cell lacks {', '.join(missing)}")
    return TitleCard(heading[1], heading[2].strip(), date[1], url[0], line[1].strip())


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def render(path: Path, exporter: HTMLExporter) -> Path:
    body, _ = exporter.from_filename(str(path))
    out = BUILD / path.with_suffix(".html").name
    out.write_text(body, encoding="utf-8")
    return out


def index_page(cards: list[tuple[TitleCard, Path]]) -> str:
    rows = "\n".join(
        f'<tr><td>{c.number}</td><td><a href="{html.escape(p.with_suffix(".html").name)}">'
        f"{html.escape(c.title)}</a></td><td>{c.date}</td><td>{html.escape(c.one_line)}</td>"
        f'<td><a href="{c.post_url}">post</a></td></tr>'
        for c, p in cards
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Scientific Spaces notebooks</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
td,th{{padding:.3rem .6rem;vertical-align:top;text-align:left}}tr:nth-child(even){{background:#f4f4f4}}</style>
</head><body>
<h1>Scientific Spaces notebooks</h1>
<p>Eight posts from Su Jianlin's blog <a href="https://kexue.fm">Scientific Spaces</a>,
re-derived step by step, every step checked by computation.</p>
<table><tr><th>#</th><th>notebook</th><th>post date</th><th>in one line</th><th>original</th></tr>
{rows}
</table></body></html>
"""


def main() -> int:
    BUILD.mkdir(exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    cards = []
    for path in notebooks():
        cards.append((title_card(path), path))
        print(f"rendered {render(path, exporter).relative_to(ROOT)}")
    (BUILD / "index.html").write_text(index_page(cards), encoding="utf-8")
    print(f"open {BUILD / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
