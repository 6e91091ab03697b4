"""Long LoRA+ sweep for notebook 07: best eta_B/eta_A versus width, over many seeds.

    python data/lora_sweep.py --write      # regenerate data/lora_sweep.npz (about 5 min)
    python data/lora_sweep.py              # rerun and compare with the cached file
    python data/lora_sweep.py --seeds 1    # the same for the first seed only (about 25 s)

The notebook runs a quick version of the same experiment live (3 seeds, widths 64..1024) and
reads this file for the 12-seed, 64..2048 version, with both low-rank (k = 8) and isotropic
inputs. Task and metrics: helpers.lora.Task / helpers.lora.sweep (Adam, 50 steps, batch 32,
r = 8, m = n). Seeds 1000..1011 (numpy default_rng), one torch thread, float32, CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from helpers import lora  # noqa: E402

OUT = ROOT / "data" / "lora_sweep.npz"
WIDTHS = (64, 128, 256, 512, 1024, 2048)
SEEDS = tuple(range(1000, 1012))
INPUTS = {"k8": 8, "iso": None}  # intrinsic input dimension (None: isotropic)
LOG2_LR_A = np.arange(-16, 0)  # -16..-1
LOG2_RATIO = np.arange(-6, 15)  # -6..14


def run(seeds: tuple[int, ...] = SEEDS, device: str = "cpu") -> dict[str, np.ndarray]:
    shape = (len(INPUTS), len(seeds), len(WIDTHS), LOG2_LR_A.size, LOG2_RATIO.size)
    auc, final = np.empty(shape, np.float32), np.empty(shape, np.float32)
    for i, k in enumerate(INPUTS.values()):
        for j, seed in enumerate(seeds):
            for w, n in enumerate(WIDTHS):
                res = lora.sweep(lora.Task(n=n, k=k), LOG2_LR_A, LOG2_RATIO,
                                 np.random.default_rng(seed), device=device)
                auc[i, j, w], final[i, j, w] = res.auc, res.final
            print(f"  inputs={list(INPUTS)[i]} seed={seed} done", flush=True)
    return {
        "inputs": np.array(list(INPUTS)), "seeds": np.array(seeds), "widths": np.array(WIDTHS),
        "log2_lr_a": LOG2_LR_A.astype(float), "log2_ratio": LOG2_RATIO.astype(float),
        "auc": auc, "final": final,
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--write", action="store_true", help=f"overwrite {OUT.relative_to(ROOT)}")
    ap.add_argument("--seeds", type=int, default=len(SEEDS),
                    help="compare only the first SEEDS seeds (not with --write)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    if not 1 <= args.seeds <= len(SEEDS) or (args.write and args.seeds != len(SEEDS)):
        ap.error(f"--seeds must be in 1..{len(SEEDS)}, and {len(SEEDS)} with --write")
    torch.set_num_threads(1)
    start = time.perf_counter()
    arrays = run(SEEDS[:args.seeds], args.device)
    print(f"sweep: {time.perf_counter() - start:.0f} s on {args.device}")
    if args.write:
        digest = lora.save_npz_deterministic(OUT, arrays)
        print(f"wrote {OUT.relative_to(ROOT)}  sha256 {digest}")
        return 0
    with np.load(OUT) as cached:
        worst = 0.0
        for key in ("auc", "final"):
            new, old = arrays[key].astype(float), cached[key][:, :args.seeds].astype(float)
            if not np.array_equal(np.isfinite(new), np.isfinite(old)):
                worst = np.inf
                continue
            both = np.isfinite(new)
            worst = max(worst, float(np.max(np.abs(new[both] / old[both] - 1))))
    print(f"max relative difference from the cached file: {worst:.2e}")
    return 0 if worst < 1e-3 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
