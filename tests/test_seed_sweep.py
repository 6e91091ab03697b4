"""Every notebook's checks hold for other seeds: each notebook is re-executed with its seeds
shifted (``tools/seed_sweep.py``), comparing no outputs. ``SEED_SWEEP_OFFSETS`` picks the
offsets (default "1 2"); ``make seeds OFFSETS="3 4 5"`` runs other ones."""

import os
from pathlib import Path

import pytest

from tools.seed_sweep import check

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
OFFSETS = [int(k) for k in os.environ.get("SEED_SWEEP_OFFSETS", "1 2").split()]


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_checks_hold_for_shifted_seeds(path, offset):
    check(path, offset)  # raises CheckFailed naming the notebook, offset, cell and exception
