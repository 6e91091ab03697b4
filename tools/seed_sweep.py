"""Re-execute notebooks with every seed shifted, comparing no outputs: a check that fails here
verified one draw, not the claim.

    python tools/seed_sweep.py [notebooks/05_local_global_cosine.ipynb ...] --offsets 1 2 [--jobs 2]

Each (notebook, offset) runs top to bottom in a fresh kernel with ``SCISPACES_SEED_OFFSET`` set
(``helpers.notebook.shifted_seed`` adds it to every seed); nothing is written, and with
``SCISPACES_FIGURES=off`` the figures are built but not drawn to PNG (a tenth of the time). A
failed check is reported with the notebook, the offset, the code cell (counted from 0, as nbval
counts) and the exception. ``make seeds OFFSETS="3 4 5"`` runs it for any offsets.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.notebook import FIGURES_VAR, SEED_OFFSET_VAR  # noqa: E402
from tools.run_notebooks import pin_kernel_environment  # noqa: E402


class CheckFailed(AssertionError):
    """A notebook's check failed under a shifted seed."""


def check(path: Path, offset: int, timeout: int = 600) -> float:
    """Execute ``path`` with the seeds shifted by ``offset``; return the wall time in seconds.

    Raises :class:`CheckFailed` naming the notebook, offset, cell and exception.
    """
    pin_kernel_environment()
    os.environ[SEED_OFFSET_VAR] = str(offset)
    os.environ[FIGURES_VAR] = "off"  # no output is compared
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    try:
        NotebookClient(nb, kernel_name="python3", timeout=timeout, record_timing=False,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except CellExecutionError as err:
        code = [c for c in nb.cells if c.cell_type == "code"]
        failed = [i for i, c in enumerate(code)
                  if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
        where = f"code cell {failed[0]}" if failed else "a cell"
        first = code[failed[0]].source.strip().splitlines()[0][:80] if failed else ""
        error = next((o for c in code for o in c.get("outputs", [])
                      if o.get("output_type") == "error"), None)
        what = f"{error['ename']}: {error['evalue']}" if error else str(err).splitlines()[-1]
        raise CheckFailed(f"{path.name} with {SEED_OFFSET_VAR}={offset}: {where} "
                          f"({first!r}) failed: {what}") from None
    finally:
        os.environ.pop(SEED_OFFSET_VAR, None)
        os.environ.pop(FIGURES_VAR, None)
    return time.perf_counter() - start


def _run(job: tuple[Path, int]) -> tuple[Path, int, float | None, str]:
    path, offset = job
    try:
        return path, offset, check(path, offset), ""
    except CheckFailed as err:
        return path, offset, None, str(err)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--offsets", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    jobs = [(p, k) for k in args.offsets for p in paths]
    failures = 0
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for path, offset, seconds, message in pool.map(_run, jobs):
            if message:
                failures += 1
                print(f"FAILED {message}", flush=True)
            else:
                print(f"ok     {path.name} with {SEED_OFFSET_VAR}={offset} ({seconds:.0f} s)",
                      flush=True)
    print(f"seed sweep: {len(jobs) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
