"""Execute notebooks in place: the only writer of committed outputs.

    python tools/run_notebooks.py notebooks/05_local_global_cosine.ipynb [more.ipynb ...]

Each notebook runs top to bottom in a fresh ``python3`` kernel of this environment, with the same
pins that the tests give nbval's kernels (hash seed, one BLAS/torch thread, inline figures). The
result is normalised (no timings, no volatile metadata) and stamped with ``source_hash``: the
hash of its code cells and of the helpers modules it imports. tests/test_notebooks.py recomputes
it, so a figure whose code changed since the last execution cannot pass unnoticed.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.notebook import FIGURES_VAR, SEED_OFFSET_VAR  # noqa: E402

KEEP_CELL_METADATA = ("tags", "slideshow", "jupyter")
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

# What the kernels see; tests/conftest.py sets the same for nbval.
KERNEL_ENV = {
    "PYTHONHASHSEED": "0",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def pin_kernel_environment() -> None:
    """Make the kernels started from this process reproducible (call before starting one)."""
    os.environ.update(KERNEL_ENV)
    os.environ.pop("MPLBACKEND", None)  # Agg would make inline figures vanish
    os.environ.pop(SEED_OFFSET_VAR, None)  # committed outputs are those of seed offset 0
    os.environ.pop(FIGURES_VAR, None)  # and carry their figures


_IMPORT_LIST = r"import\s+(?:\(([^)]*)\)|([\w \t,]+))"  # spans lines only inside parentheses


def helper_modules(code: str) -> list[str]:
    """Names of the ``helpers`` modules that a notebook's code uses, with the helpers modules
    those import in turn (``from . import x``, ``from ._validate import y``)."""
    found: set[str] = set()
    todo = [code]
    while todo:
        src = todo.pop()
        names = set(re.findall(r"\bhelpers\.(\w+)", src))
        groups = re.findall(r"from\s+helpers\s+" + _IMPORT_LIST, src)
        groups += re.findall(r"^[ \t]*from\s+\.\s+" + _IMPORT_LIST, src, re.M)
        for group in ("".join(g) for g in groups):
            names.update(n.split(" as ")[0].strip() for n in group.split(","))
        names.update(re.findall(r"^\s*from\s+\.(\w+)\s+import", src, re.M))
        for name in sorted(names - found):
            path = ROOT / "helpers" / f"{name}.py"
            if path.exists():
                found.add(name)
                todo.append(path.read_text(encoding="utf-8"))
    return sorted(found)


def source_hash(nb: nbformat.NotebookNode) -> str:
    """sha256 over the notebook's code cells and the helpers modules they use."""
    code = "\n# %% cell\n".join(c.source for c in nb.cells if c.cell_type == "code")
    digest = hashlib.sha256(code.encode())
    for name in helper_modules(code):
        digest.update(f"\n# %% helpers/{name}.py\n".encode())
        digest.update((ROOT / "helpers" / f"{name}.py").read_bytes())
    return "sha256:" + digest.hexdigest()


def slide_type(cell: nbformat.NotebookNode) -> str | None:
    """reveal.js slide type from the heading levels: '#'/'##' open a slide, '###' a sub-slide;
    a cell tagged ``notes`` is the speaker notes of the slide it follows."""
    if "notes" in cell.metadata.get("tags", []):
        return "notes"
    if cell.cell_type == "markdown":
        level = re.match(r"(#{1,3}) ", cell.source)
        if level:
            return "slide" if len(level[1]) <= 2 else "subslide"
    return None


def stable_outputs(outputs: list) -> list:
    """Consecutive prints to one stream merged into one output: the kernel splits them by timing,
    so without this a re-execution can differ from the committed notebook in its JSON alone."""
    merged = []
    for out in outputs:
        last = merged[-1] if merged else None
        if (out.output_type == "stream" and last is not None and last.output_type == "stream"
                and last.name == out.name):
            last.text += out.text
        else:
            merged.append(out)
    return merged


def normalise(nb: nbformat.NotebookNode) -> None:
    """Strip what changes from run to run or machine to machine; mark slides; stamp the hash."""
    nb.metadata = nbformat.NotebookNode(
        kernelspec=KERNELSPEC, language_info={"name": "python"}, source_hash=source_hash(nb)
    )
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in KEEP_CELL_METADATA}
        if kind := slide_type(cell):
            cell.metadata["slideshow"] = {"slide_type": kind}
        if cell.cell_type == "code":
            cell.outputs = stable_outputs(cell.outputs)


def execute(path: Path, timeout: int = 600) -> float:
    """Run one notebook in place; return its wall time in seconds."""
    pin_kernel_environment()
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    seconds = time.perf_counter() - start
    normalise(nb)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return seconds


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    for p in map(Path, paths):
        if p.suffix != ".ipynb" or not p.exists():
            print(f"not a notebook: {p}", file=sys.stderr)
            return 2
    for p in map(Path, paths):
        print(f"{p.name}: executed in {execute(p):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
