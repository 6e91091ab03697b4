"""The Chinese edition: notebooks/zh/NN_slug.ipynb, generated from the English notebook and
translations/zh/NN_slug.md. This tool is the only writer of notebooks/zh/.

    python tools/translate.py build [NN ...]    write notebooks/zh/ for every notebook whose translation
                                                is complete (refuses a stale or missing cell)
    python tools/translate.py status [NN ...]   translated / stale / missing cells, with the English
                                                change behind each stale one (from git history)
    python tools/translate.py skeleton NN ...   add an entry for every untranslated cell, holding
                                                the English text and marked TODO, to translate in place

The English notebook is the one source of code and outputs: the Chinese notebook is a copy of it
whose Markdown cells are replaced by their translations. A translation file is Markdown, one entry
per Markdown cell, in the notebook's order:

    <!-- cell 483ecf55 en=1f0c2d3e4b5a -->
    # 01 · EMO：……

``483ecf55`` is the cell's id (nbformat 4.5, stable across executions) and ``en=`` the first 12
hex digits of the sha256 of the English text that the translation was made from. When that text
changes, the entry is *stale* and the build refuses it until someone updates the translation and
its ``en=`` (``status`` shows what changed in the English).

A notebook belongs to the Chinese edition once its notebooks/zh/ file is committed; from then on
every one of its cells must stay translated and fresh. A translation still in progress (entries
marked TODO) must hold no stale or malformed entry, so that finished work cannot rot.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LANG = "zh"
EDITION = ROOT / "notebooks" / LANG
TRANSLATIONS = ROOT / "translations" / LANG
ENTRY = re.compile(r"^<!-- cell (?P<id>[A-Za-z0-9_-]+) en=(?P<en>[0-9a-f]{12})(?P<todo> TODO)? -->$",
                   re.M)

# The labels every notebook shares (CONVENTIONS.md, "Anatomy"), and their one Chinese form: a cell
# whose English has the label must have its translation. tools/build_site.py reads some of them.
LABELS = {
    "**In one line:**": "**一句话：**",
    "**What this notebook verifies**": "**本笔记本验证什么**",
    "**Speaker notes.**": "**讲者备注。**",
    "## Beyond the post": "## 原文之外",
    "## Where the post is loose": "## 原文不严谨之处",
    "## Reading-group guide": "## 读书会指南",
    "**Prerequisites.**": "**预备知识。**",
    "**Three take-aways.**": "**三个要点。**",
    "**Discussion questions.**": "**讨论题。**",
    "**Exercises.**": "**练习。**",
    "<summary>Solution</summary>": "<summary>解答</summary>",
    "## References": "## 参考文献",
}


def english_notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def digest(text: str) -> str:
    """The ``en=`` stamp of an English Markdown text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass
class Entry:
    cell_id: str
    en: str
    text: str
    todo: bool = False


@dataclass
class Report:
    """What a translation file holds for one English notebook."""
    notebook: Path
    translated: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # entries for cells the notebook no longer has
    errors: list[str] = field(default_factory=list)   # structure that differs from the English

    @property
    def ok(self) -> bool:
        return not (self.stale or self.missing or self.orphans or self.errors)

    def summary(self) -> str:
        text = (f"{self.notebook.name}: {len(self.translated)} translated, {len(self.stale)} stale, "
                f"{len(self.missing)} missing")
        return text + (f", {len(self.orphans)} orphaned" if self.orphans else "")


def translation_file(notebook: Path) -> Path:
    return TRANSLATIONS / f"{notebook.stem}.md"


def edition_path(notebook: Path) -> Path:
    return EDITION / notebook.name


def in_edition(notebook: Path) -> bool:
    return edition_path(notebook).exists()


def read_entries(path: Path) -> dict[str, Entry]:
    """Parse a translation file into entries keyed by cell id (text between two markers)."""
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    marks = list(ENTRY.finditer(text))
    entries: dict[str, Entry] = {}
    for mark, after in zip(marks, marks[1:] + [None]):
        body = text[mark.end():after.start() if after else len(text)].strip("\n")
        if mark["id"] in entries:
            raise ValueError(f"{path.name}: cell {mark['id']} has two entries")
        entries[mark["id"]] = Entry(mark["id"], mark["en"], body, bool(mark["todo"]))
    return entries


def _structure(text: str) -> dict[str, object]:
    """What a translation keeps from its English cell: headings' levels, display maths, collapsed
    solutions and the shared labels (the decks and the book are cut along these)."""
    return {"heading levels": [len(h) for h in re.findall(r"^(#{1,6}) ", text, re.M)],
            "$$ blocks": text.count("$$"),
            "<details> blocks": text.count("<details>")}


def check(notebook: Path) -> Report:
    nb = nbformat.read(notebook, as_version=4)
    entries = read_entries(translation_file(notebook))
    report = Report(notebook)
    ids = set()
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        ids.add(cell.id)
        entry = entries.get(cell.id)
        if entry is None or entry.todo or not entry.text.strip():
            report.missing.append(cell.id)
            continue
        if entry.en != digest(cell.source):
            report.stale.append(cell.id)
            continue
        report.translated.append(cell.id)
        en, zh = _structure(cell.source), _structure(entry.text)
        for what in en:
            if en[what] != zh[what]:
                report.errors.append(f"cell {cell.id}: {what} {zh[what]} where the English has "
                                     f"{en[what]}")
        for label, translated in LABELS.items():
            if label in cell.source and translated not in entry.text:
                report.errors.append(f"cell {cell.id}: '{label}' is translated as '{translated}'")
    report.orphans = sorted(set(entries) - ids)
    return report


def generate(notebook: Path) -> nbformat.NotebookNode:
    """The Chinese notebook: the English one with every Markdown cell's text translated."""
    report = check(notebook)
    if not report.ok:
        raise ValueError(describe(report))
    nb = nbformat.read(notebook, as_version=4)
    entries = read_entries(translation_file(notebook))
    zh = copy.deepcopy(nb)
    for cell in zh.cells:
        if cell.cell_type == "markdown":
            cell.source = entries[cell.id].text
    zh.metadata["translation"] = {"language": "zh-CN", "english": f"../{notebook.name}",
                                  "text": f"translations/{LANG}/{notebook.stem}.md"}
    return zh


def render(nb: nbformat.NotebookNode) -> str:
    """The notebook file's text exactly as nbformat writes it (so that files can be compared)."""
    return nbformat.writes(nb) + "\n"


def describe(report: Report) -> str:
    lines = [report.summary() + f" (translations/{LANG}/{report.notebook.stem}.md)"]
    firsts = {c.id: (c.source.strip().splitlines() or [""])[0][:70]
              for c in nbformat.read(report.notebook, as_version=4).cells}
    for kind in ("stale", "missing"):
        for cell_id in getattr(report, kind):
            lines.append(f"  {kind}: cell {cell_id} ('{firsts[cell_id]}')")
    lines += [f"  orphaned: cell {cell_id} (no longer in the notebook)" for cell_id in report.orphans]
    lines += [f"  {error}" for error in report.errors]
    if report.stale:
        lines.append(f"  see the English changes: python tools/translate.py status "
                     f"{report.notebook.name[:2]}")
    return "\n".join(lines)


def _english_history(notebook: Path, cell_id: str, stamp: str) -> str | None:
    """The English text of ``cell_id`` whose digest is ``stamp``, from the notebook's git history."""
    rel = notebook.relative_to(ROOT).as_posix()
    log = subprocess.run(["git", "log", "--format=%H", "-n", "200", "--", rel], cwd=ROOT,
                         capture_output=True, text=True)
    for commit in log.stdout.split():
        shown = subprocess.run(["git", "show", f"{commit}:{rel}"], cwd=ROOT, capture_output=True,
                               text=True)
        if shown.returncode:
            continue
        for cell in json.loads(shown.stdout).get("cells", []):
            source = "".join(cell.get("source", ""))
            if cell.get("id") == cell_id and digest(source) == stamp:
                return source
    return None


def status(notebook: Path) -> str:
    report = check(notebook)
    lines = [describe(report)]
    cells = {c.id: c for c in nbformat.read(notebook, as_version=4).cells}
    entries = read_entries(translation_file(notebook))
    for cell_id in report.stale:
        old = _english_history(notebook, cell_id, entries[cell_id].en)
        if old is None:
            lines.append(f"  cell {cell_id}: the English it was translated from is not in git history")
            continue
        diff = difflib.unified_diff(old.splitlines(), cells[cell_id].source.splitlines(),
                                    f"{cell_id} (translated from)", f"{cell_id} (now)", lineterm="")
        lines += ["    " + line for line in diff]
    return "\n".join(lines)


def skeleton(notebook: Path) -> int:
    """Append TODO entries (English text in place) for cells without an entry; return how many."""
    path = translation_file(notebook)
    entries = read_entries(path)
    nb = nbformat.read(notebook, as_version=4)
    todo = [c for c in nb.cells if c.cell_type == "markdown" and c.id not in entries]
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<!-- {LANG} translation of notebooks/{notebook.name}: one entry per "
                        f"Markdown cell; see tools/translate.py -->\n", encoding="utf-8")
    with path.open("a", encoding="utf-8") as out:
        for cell in todo:
            out.write(f"\n<!-- cell {cell.id} en={digest(cell.source)} TODO -->\n{cell.source}\n")
    return len(todo)


def build(notebook: Path) -> Path:
    out = edition_path(notebook)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(generate(notebook)), encoding="utf-8")
    return out


def _select(numbers: list[str]) -> list[Path]:
    chosen = [p for p in english_notebooks() if not numbers or p.name[:2] in numbers
              or p.name in numbers or str(p) in numbers]
    if numbers and len(chosen) != len(numbers):
        raise SystemExit(f"no such notebook among {numbers}")
    return chosen


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "status", "skeleton"])
    parser.add_argument("notebooks", nargs="*", help="numbers (01) or file names; default all")
    args = parser.parse_args(argv)
    failed = 0
    for notebook in _select(args.notebooks):
        if args.command == "status":
            print(status(notebook))
        elif args.command == "skeleton":
            print(f"{notebook.name}: {skeleton(notebook)} entries to translate")
        else:
            report = check(notebook)
            if report.ok or args.notebooks:
                try:
                    print(f"wrote {build(notebook).relative_to(ROOT)}")
                except ValueError as error:
                    print(error, file=sys.stderr)
                    failed += 1
            elif in_edition(notebook) or report.stale or report.errors:
                print(describe(report), file=sys.stderr)
                failed += 1
            else:
                print(f"{notebook.name}: not yet in the edition, {report.summary().split(': ')[1]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
