"""Static checks of the committed notebooks, without a kernel (nbval does the executing).

nbval compares text only, and compares nothing in a cell without an execution count; these tests
cover what it cannot see: stale figures, stripped outputs, stderr, size, and the collection's
own conventions (title card, README row, exercises).
"""

import re
from pathlib import Path

import nbformat
import pytest

from tools.build_site import display_math_in_paragraph, title_card
from tools.run_notebooks import KEEP_CELL_METADATA, source_hash

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAX_BYTES = 2_000_000
MAX_IMAGE_BYTES = 250_000  # base64 of a 1.5x PNG


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def skipped(cell):
    return "skip-execution" in cell.metadata.get("tags", [])


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


def test_file_names_are_numbered():
    for p in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", p.name), f"{p.name}: expected NN_slug.ipynb"
    numbers = [p.name[:2] for p in NOTEBOOKS]
    assert len(set(numbers)) == len(numbers), f"two notebooks share a number: {numbers}"


def test_valid_and_small(notebook):
    path, nb = notebook
    nbformat.validate(nb)
    assert path.stat().st_size < MAX_BYTES, f"{path.name}: {path.stat().st_size} bytes"
    for i, cell in enumerate(code_cells(nb)):
        for out in cell.outputs:
            for mime, data in out.get("data", {}).items():
                if mime.startswith("image/"):
                    assert len(data) < MAX_IMAGE_BYTES, f"{path.name} code cell {i}: {mime} too big"


def test_executed_top_to_bottom(notebook):
    path, nb = notebook
    counts = [c.execution_count for c in code_cells(nb) if not skipped(c)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..n; run tools/run_notebooks.py"
    )
    assert any(c.outputs for c in code_cells(nb)), f"{path.name}: no outputs at all"


def test_no_errors_no_stderr(notebook):
    """A deliberate error is shown by catching it and printing its message, never as a traceback."""
    path, nb = notebook
    for i, cell in enumerate(code_cells(nb)):
        for out in cell.outputs:
            assert out.get("name") != "stderr", f"{path.name} code cell {i}: stderr output"
            assert out.output_type != "error", f"{path.name} code cell {i}: error {out.ename}"


def test_outputs_come_from_the_committed_code(notebook):
    path, nb = notebook
    assert nb.metadata.get("source_hash") == source_hash(nb), (
        f"{path.name}: code or helpers changed since the outputs were made; "
        f"run `make run NOTEBOOKS={path.relative_to(ROOT)}`"
    )


def test_normalised_metadata(notebook):
    path, nb = notebook
    assert nb.metadata.kernelspec.name == "python3"
    assert set(nb.metadata) == {"kernelspec", "language_info", "source_hash"}
    for cell in nb.cells:
        extra = set(cell.metadata) - set(KEEP_CELL_METADATA)
        assert not extra, f"{path.name}: volatile cell metadata {sorted(extra)}"


def test_renders_on_nbviewer(notebook):
    """Static PNG figures only (nbviewer runs no widgets; SVG output carries volatile ids), and
    math delimiters that pair up, with display maths in a paragraph of its own (the book), so
    MathJax sees the formulas the author wrote."""
    path, nb = notebook
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            mimes = {m for out in cell.outputs for m in out.get("data", {})}
            assert not {m for m in mimes if "widget" in m or m == "image/svg+xml"}, (
                f"{path.name} cell {i}: {sorted(mimes)}")
        elif cell.cell_type == "markdown":
            text = re.sub(r"`[^`]*`", "", cell.source.replace("\\$", ""))
            assert text.count("$$") % 2 == 0, f"{path.name} cell {i}: unpaired $$"
            assert text.replace("$$", "").count("$") % 2 == 0, f"{path.name} cell {i}: unpaired $"
            assert not display_math_in_paragraph(cell.source), (
                f"{path.name} cell {i}: put blank lines around {display_math_in_paragraph(cell.source)}")


def test_title_card_links_the_post(notebook):
    path, _ = notebook
    card = title_card(path)  # raises with a message naming what is missing
    assert card.number == path.name[:2]


def test_has_exercises_with_collapsed_solutions(notebook):
    path, nb = notebook
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"^#+ .*Reading-group guide", text, re.M), f"{path.name}: no reading-group guide"
    assert "<details>" in text and "<summary>" in text, f"{path.name}: no collapsed solutions"


def test_readme_lists_every_notebook_with_nbviewer_and_binder():
    rows = [line for line in README.splitlines() if line.startswith("|") and ".ipynb" in line]
    listed = {m for row in rows for m in re.findall(r"notebooks/(\d\d_\w+\.ipynb)", row)}
    assert listed == {p.name for p in NOTEBOOKS}, "README table and notebooks/ disagree"
    for row in rows:
        assert "nbviewer.org/github/" in row and "mybinder.org/v2/gh/" in row, row


def test_headings_open_their_cells(notebook):
    """A ``##`` section or ``###`` step heading is the first line of its cell, so the execution
    tool can start a slide there (a heading mid-cell would get no slide)."""
    path, nb = notebook
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        text = re.sub(r"<details>.*?</details>", "", cell.source, flags=re.S)
        inner = [line for line in text.splitlines()[1:] if re.match(r"#{2,3} ", line)]
        assert not inner, f"{path.name} cell {i}: heading {inner[0]!r} is not the first line"


def test_every_step_has_speaker_notes(notebook):
    """Each ``###`` step carries a cell tagged ``notes`` (what to say, the question to ask) before
    the next heading: the teaching deck shows it in the speaker view."""
    path, nb = notebook
    step, has_notes, missing = None, True, []
    for cell in nb.cells + [nbformat.v4.new_markdown_cell("## end")]:
        heading = re.match(r"(#{2,3}) (.*)", cell.source) if cell.cell_type == "markdown" else None
        if heading:
            if step is not None and not has_notes:
                missing.append(step)
            step = heading[2] if heading[1] == "###" else None
            has_notes = False
        elif "notes" in cell.metadata.get("tags", []):
            assert cell.cell_type == "markdown" and cell.source.startswith("**Speaker notes.**"), (
                f"{path.name}: a notes cell must be Markdown starting with '**Speaker notes.**'")
            has_notes = True
    assert not missing, f"{path.name}: steps without speaker notes: {missing}"
