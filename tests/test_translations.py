"""The Chinese edition (tools/translate.py): every Markdown cell translated from the English text
that is there now, and notebooks/zh/ exactly what the tool generates from the two."""

import nbformat
import pytest

from tools import translate as tr
from tools.build_site import display_math_in_paragraph

NOTEBOOKS = tr.english_notebooks()
EDITION = [p for p in NOTEBOOKS if tr.in_edition(p)]


def test_the_edition_has_notebooks():
    assert EDITION, "notebooks/zh/ holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_markdown_cell_has_a_translation_of_the_current_english(path):
    report = tr.check(path)
    if tr.in_edition(path):
        assert report.ok, tr.describe(report)
    else:  # in progress: what is translated must be fresh and well-formed
        assert not (report.stale or report.errors or report.orphans), tr.describe(report)


@pytest.mark.parametrize("path", EDITION, ids=lambda p: p.stem)
def test_committed_chinese_notebook_is_the_generated_one(path):
    committed = tr.edition_path(path)
    fix = f"run `python tools/translate.py build {path.name[:2]}`"
    assert committed.exists(), f"{committed.name} is missing from notebooks/zh/: {fix}"
    assert committed.read_text(encoding="utf-8") == tr.render(tr.generate(path)), (
        f"notebooks/zh/{committed.name} differs from what the tool generates: {fix}")
    en, zh = (nbformat.read(p, as_version=4) for p in (path, committed))
    assert [c.cell_type for c in en.cells] == [c.cell_type for c in zh.cells]
    for a, b in zip(en.cells, zh.cells):
        if a.cell_type == "code":
            assert (a.source, a.outputs) == (b.source, b.outputs), f"code cell {a.id} differs"


@pytest.mark.parametrize("path", EDITION, ids=lambda p: p.stem)
def test_display_maths_stands_in_its_own_paragraph(path):
    for cell in nbformat.read(tr.edition_path(path), as_version=4).cells:
        if cell.cell_type == "markdown":
            found = display_math_in_paragraph(cell.source)
            assert not found, f"zh/{path.name} cell {cell.id}: put blank lines around {found}"


def _tiny(tmp_path, monkeypatch, texts):
    monkeypatch.setattr(tr, "TRANSLATIONS", tmp_path / "translations")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(t) for t in texts]
    nb.cells.insert(1, nbformat.v4.new_code_cell("print(1)"))
    path = tmp_path / "01_tiny.ipynb"
    nbformat.write(nb, path)
    return path, nb


def test_a_later_change_to_an_english_cell_is_caught(tmp_path, monkeypatch):
    path, nb = _tiny(tmp_path, monkeypatch, ["# 01 · Tiny\n\n**In one line:** one.", "Some $x$."])
    assert tr.skeleton(path) == 2 and tr.check(path).missing == [c.id for c in nb.cells
                                                                 if c.cell_type == "markdown"]
    entries = tr.translation_file(path).read_text(encoding="utf-8")
    entries = entries.replace(" TODO", "").replace("# 01 · Tiny\n\n**In one line:** one.",
                                                   "# 01 · 小\n\n**一句话：** 一。")
    tr.translation_file(path).write_text(entries.replace("Some $x$.", "一些 $x$。"), encoding="utf-8")
    assert tr.check(path).ok
    assert [c.source for c in tr.generate(path).cells] == ["# 01 · 小\n\n**一句话：** 一。",
                                                          "print(1)", "一些 $x$。"]
    nb.cells[2].source = "Some $y$."  # the English changes after the translation was made
    nbformat.write(nb, path)
    report = tr.check(path)
    assert report.stale == [nb.cells[2].id] and not report.ok
    with pytest.raises(ValueError, match=f"stale: cell {nb.cells[2].id} \\('Some \\$y\\$.'\\)"):
        tr.generate(path)


def test_structure_and_labels_must_survive_translation(tmp_path, monkeypatch):
    path, nb = _tiny(tmp_path, monkeypatch, ["## Where the post is loose\n\n$$a$$", "Text."])
    tr.skeleton(path)
    text = tr.translation_file(path).read_text(encoding="utf-8").replace(" TODO", "")
    text = text.replace("## Where the post is loose\n\n$$a$$", "### 不严谨之处\n\n$a$")
    tr.translation_file(path).write_text(text.replace("Text.", "文字。"), encoding="utf-8")
    errors = "\n".join(tr.check(path).errors)
    assert "heading levels [3] where the English has [2]" in errors
    assert "$$ blocks 0 where the English has 2" in errors
    assert "'## Where the post is loose' is translated as '## 原文不严谨之处'" in errors


def test_chinese_readme_links_every_chinese_notebook():
    readme = (tr.ROOT / "README.zh.md").read_text(encoding="utf-8")
    for path in EDITION:
        for link in (f"(notebooks/zh/{path.name})", f"blob/main/notebooks/zh/{path.name})",
                     f"labpath=notebooks/zh/{path.name})"):
            assert link in readme, f"README.zh.md lacks {link}"
