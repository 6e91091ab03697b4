"""Notebook 07 (LoRA+): how the best eta_B/eta_A depends on the inputs' intrinsic dimension k.

    python data/07_k_sweep.py --write      # regenerate data/07_k_sweep.npz
    python data/07_k_sweep.py              # rerun and compare with the cached file

Two parts, same task, grid and metrics as data/lora_sweep.py (helpers.lora.Task / sweep: Adam,
50 steps, batch 32, r = 8, m = n; AUC and final loss relative to the zero map), float32, CPU,
one torch thread, seeds fixed (numpy default_rng; not re-drawn by the notebook's seed sweep):

* ``kdim_*``: width n = 256, k in KS (0 = isotropic inputs), seeds 2000..2005;
* ``family_*``: widths 64..512 for four ways of growing the inputs with the width: k = 2 and
  k = 32 fixed, k = n/8 and k = n/2; seeds 3000..3003.

The comparison is data/lora_sweep.py's (tolerance on runs that did not diverge).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from helpers import lora  # noqa: E402

_spec = importlib.util.spec_from_file_location("lora_sweep", ROOT / "data" / "lora_sweep.py")
lora_sweep = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lora_sweep)

OUT = ROOT / "data" / "07_k_sweep.npz"
# sha256 of OUT, as recorded in data/README.md
SHA256 = "610553d98e71632af6baaa83058e1417a26d691016e701515aaae5c7488214fa"
LOG2_LR_A = np.arange(-15, -1)   # -15..-2
LOG2_RATIO = np.arange(-6, 14)   # -6..13
KDIM_N = 256
KS = (2, 4, 8, 16, 32, 64, 128, 256, 0)  # 0: isotropic
KDIM_SEEDS = tuple(range(2000, 2006))
FAMILIES = ("k=2", "k=32", "k=n/8", "k=n/2")
FAMILY_WIDTHS = (64, 128, 256, 512)
FAMILY_SEEDS = tuple(range(3000, 3004))


def family_k(family: str, n: int) -> int:
    """The intrinsic dimension of ``family`` at width ``n``."""
    return {"k=2": 2, "k=32": 32, "k=n/8": n // 8, "k=n/2": n // 2}[family]


def _one(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    res = lora.sweep(lora.Task(n=n, k=k or None), LOG2_LR_A, LOG2_RATIO,
                     np.random.default_rng(seed))
    return res.auc.astype(np.float32), res.final.astype(np.float32)


def run_kdim(ks=KS, seeds=KDIM_SEEDS) -> dict[str, np.ndarray]:
    """auc, final of shape (k, seed, eta_A, ratio) at n = KDIM_N."""
    out = [[_one(KDIM_N, k, s) for s in seeds] for k in ks]
    return {"kdim_ks": np.array(ks), "kdim_seeds": np.array(seeds),
            "kdim_auc": np.array([[a for a, _ in row] for row in out]),
            "kdim_final": np.array([[f for _, f in row] for row in out])}


def run_family(families=FAMILIES, widths=FAMILY_WIDTHS,
               seeds=FAMILY_SEEDS) -> dict[str, np.ndarray]:
    """auc, final of shape (family, seed, width, eta_A, ratio)."""
    out = [[[_one(n, family_k(f, n), s) for n in widths] for s in seeds] for f in families]
    return {"family_names": np.array(families), "family_widths": np.array(widths),
            "family_seeds": np.array(seeds),
            "family_auc": np.array([[[a for a, _ in w] for w in row] for row in out]),
            "family_final": np.array([[[f for _, f in w] for w in row] for row in out])}


def run() -> dict[str, np.ndarray]:
    arrays = {"log2_lr_a": LOG2_LR_A.astype(float), "log2_ratio": LOG2_RATIO.astype(float)}
    start = time.perf_counter()
    arrays.update(run_kdim())
    print(f"  k-dimension part: {time.perf_counter() - start:.0f} s", flush=True)
    arrays.update(run_family())
    print(f"  width families: {time.perf_counter() - start:.0f} s", flush=True)
    return arrays


def compare(new: dict[str, np.ndarray], old) -> dict[str, float]:
    """data/lora_sweep.py's comparison over both parts."""
    parts = [lora_sweep.compare({"auc": new[f"{p}_auc"], "final": new[f"{p}_final"]},
                                {"auc": old[f"{p}_auc"], "final": old[f"{p}_final"]})
             for p in ("kdim", "family")]
    return {"worst": max(c["worst"] for c in parts), "compared": sum(c["compared"] for c in parts),
            "diverged": sum(c["diverged"] for c in parts),
            "status_mismatch": sum(c["status_mismatch"] for c in parts)}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--write", action="store_true", help=f"overwrite {OUT.relative_to(ROOT)}")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    arrays = run()
    print(f"sweep: {time.perf_counter() - start:.0f} s")
    if args.write:
        print(f"wrote {OUT.relative_to(ROOT)}  sha256 {lora.save_npz_deterministic(OUT, arrays)}")
        return 0
    with np.load(OUT) as cached:
        c = compare(arrays, cached)
    print(f"{c['compared']} runs that did not diverge: max relative difference {c['worst']:.2e} "
          f"(tolerance {lora_sweep.TOLERANCE:g}); {c['status_mismatch']} with a different status")
    return 0 if c["worst"] < lora_sweep.TOLERANCE and c["status_mismatch"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
