"""The execution tool's bookkeeping: what the freshness hash covers, and the slide marks."""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tools.build_site import display_math_in_paragraph
from tools.run_notebooks import helper_modules, normalise, slide_type, source_hash, stable_outputs


def test_helper_modules_finds_every_import_style():
    for code in ["from helpers import attention_scale as a, notebook", "import helpers.attention_scale\n"
                 "from helpers.notebook import setup", "helpers.attention_scale.f()\nhelpers.notebook.g()"]:
        assert {"attention_scale", "notebook"} <= set(helper_modules(code)), code
    assert helper_modules("from helpers import nosuchmodule") == []
    # one import per line, as the notebooks write them: each line is its own import list
    code = "from helpers import emo\nfrom helpers import notebook as nb\nfrom helpers import (cosine,\n    sgd)"
    assert {"emo", "notebook", "cosine", "sgd"} <= set(helper_modules(code))


def test_hash_changes_with_code_but_not_with_outputs_or_markdown():
    nb = new_notebook(cells=[new_markdown_cell("# t"), new_code_cell("x = 1")])
    before = source_hash(nb)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells[0].source = "# another title"
    assert source_hash(nb) == before
    nb.cells[1].source = "x = 2"
    assert source_hash(nb) != before


def test_normalise_strips_volatile_metadata_and_marks_slides():
    nb = new_notebook(cells=[new_markdown_cell("## Section"), new_markdown_cell("### Step"),
                             new_markdown_cell("text"), new_code_cell("1"),
                             new_markdown_cell("**Speaker notes.** Ask why.")])
    nb.cells[4].metadata["tags"] = ["notes"]
    nb.cells[3].metadata = {"execution": {"iopub.status.idle": "2026"}, "tags": ["t"]}
    nb.metadata["widgets"] = {}
    normalise(nb)
    assert set(nb.metadata) == {"kernelspec", "language_info", "source_hash"}
    assert nb.cells[3].metadata == {"tags": ["t"]}
    assert [slide_type(c) for c in nb.cells] == ["slide", "subslide", None, None, "notes"]
    assert nb.cells[0].metadata["slideshow"] == {"slide_type": "slide"}


def test_stable_outputs_merges_consecutive_chunks_of_one_stream():
    out = nbformat.v4.new_output
    outputs = [out("stream", name="stdout", text="a\n"), out("stream", name="stdout", text="b\n"),
               out("stream", name="stderr", text="w\n"), out("stream", name="stdout", text="c\n")]
    merged = stable_outputs(outputs)
    assert [(o.name, o.text) for o in merged] == [("stdout", "a\nb\n"), ("stderr", "w\n"),
                                                  ("stdout", "c\n")]


def test_helper_modules_follows_imports_inside_helpers(tmp_path, monkeypatch):
    import tools.run_notebooks as rn

    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "topic.py").write_text("from ._validate import real_array\n")
    (tmp_path / "helpers" / "_validate.py").write_text("from . import base\n")
    (tmp_path / "helpers" / "base.py").write_text("x = 1\n")
    monkeypatch.setattr(rn, "ROOT", tmp_path)
    assert rn.helper_modules("from helpers import topic") == ["_validate", "base", "topic"]


def test_seed_sweep_names_the_failing_cell(tmp_path):
    import pytest

    from tools.seed_sweep import CheckFailed, check

    nb = new_notebook(cells=[new_code_cell("from helpers.notebook import setup\nrng = setup(0)"),
                             new_code_cell("assert rng.integers(10**9) != rng.integers(10**9)"),
                             new_code_cell("assert __import__('os').environ['SCISPACES_SEED_OFFSET'] == '0'")])
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    check(path, 0)
    with pytest.raises(CheckFailed, match=r"probe.ipynb with SCISPACES_SEED_OFFSET=3: code cell 2"):
        check(path, 3)


def test_the_seed_sweep_builds_figures_without_drawing_them(monkeypatch):
    from matplotlib.figure import Figure

    from helpers.notebook import FIGURES_VAR, _png_at_1_5x

    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1])
    png, size = _png_at_1_5x(fig)
    assert png.startswith(b"\x89PNG") and size["width"] > 0  # drawn, at its displayed size
    monkeypatch.setenv(FIGURES_VAR, "off")
    assert _png_at_1_5x(fig) is None


def test_display_math_must_stand_in_its_own_paragraph():
    ok = "Text:\n\n$$a=b$$\n\nmore text, and\n\n$$\\begin{aligned}a&=b\\\\c&=d\\end{aligned}$$"
    multi = "Text:\n\n$$\na=b\n$$\n\n- item\n\n  $$c$$\n"
    assert display_math_in_paragraph(ok) == [] and display_math_in_paragraph(multi) == []
    assert display_math_in_paragraph("Text:\n$$a=b$$\n\nmore") == ["$$a=b$$"]
    assert display_math_in_paragraph("Text:\n\n$$\na=b\n$$\nmore") == ["$$"]
    assert display_math_in_paragraph("inline $$a$$ in a sentence") == []
