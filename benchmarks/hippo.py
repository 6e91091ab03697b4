"""How the cost of the HiPPO helpers (notebook 08) grows with the state size N.

    python benchmarks/hippo.py            # N = 64, 256, 1024
    python benchmarks/hippo.py 64 256     # other sizes

For each N it times
* building LegT and LegS: ``helpers.hippo.legt`` / ``legs`` (vectorised, O(N^2) numpy work) against
  a straightforward double loop over the entries (O(N^2) Python operations), and checks they agree;
* discretising LegT (bilinear: one LU solve; zero-order hold: one ``expm``), both O(N^3);
* running the memory over 10^4 steps: ``hippo.scan`` (one dense mat-vec per step, O(L N^2)) and the
  same outputs from ``hippo.kernel`` (doubling, ~log2 L matrix products) + ``hippo.causal_conv`` (FFT).

Timings are the best of a few repeats for the fast operations and a single run for the slow ones;
numpy runs on whatever BLAS threads the environment allows (set OMP_NUM_THREADS to pin them).
The last column is the bound the scan/convolution agreement is checked against (relative
difference < 1e-12), not the residual itself, which depends on the BLAS kernels. Nothing here is
part of the tests; how long the whole run takes depends on the machine, so no figure is given.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from helpers import hippo  # noqa: E402

STEPS = 10_000


def timed(fn, repeat: int = 1):
    """(best wall time in seconds over ``repeat`` runs, last result)."""
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def row(N: int) -> dict[str, float]:
    fast = 5 if N <= 256 else 2
    r = {}
    r["legt"], (A, B) = timed(lambda: hippo.legt(N), fast)
    slow = 3 if N <= 256 else 1
    r["legt_loop"], (A0, B0) = timed(lambda: hippo.legt_entrywise(N), slow)
    r["legs"], (As, Bs) = timed(lambda: hippo.legs(N), fast)
    r["legs_loop"], (As0, Bs0) = timed(lambda: hippo.legs_entrywise(N), slow)
    assert np.allclose(A, A0, rtol=1e-14, atol=0) and np.allclose(As, As0, rtol=1e-14, atol=0)
    assert np.allclose(B, B0, rtol=1e-14) and np.allclose(Bs, Bs0, rtol=1e-14)
    r["bilinear"], (Ad, Bd) = timed(lambda: hippo.discretize(A, B, 1e-3, "bilinear"), fast)
    r["zoh"], _ = timed(lambda: hippo.discretize(A, B, 1e-3, "zoh"), 1 if N > 256 else fast)
    u = np.random.default_rng(0).standard_normal(STEPS)  # fixed input: a benchmark, not a check over seeds
    r["scan"], X = timed(lambda: hippo.scan(Ad, Bd, u))
    r["conv"], Y = timed(lambda: hippo.causal_conv(hippo.kernel(Ad, Bd, STEPS), u))
    r["diff"] = float(np.abs(X - Y).max() / np.abs(X).max())
    assert r["diff"] < 1e-12, r["diff"]
    return r


def main(sizes: list[int]) -> None:
    print(f"helpers.hippo, numpy {np.__version__}; scan/conv: LegT, bilinear dt = 1e-3, {STEPS} steps")
    head = ("N", "legt", "loop", "legs", "loop", "bilinear", "zoh", "scan", "kernel+FFT", "scan vs conv")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for N in sizes:
        r = row(N)
        ms = lambda key: f"{1e3 * r[key]:.3g} ms" if r[key] < 1 else f"{r[key]:.3g} s"  # noqa: E731
        cells = [str(N), ms("legt"), ms("legt_loop"), ms("legs"), ms("legs_loop"), ms("bilinear"),
                 ms("zoh"), ms("scan"), ms("conv"), "< 1e-12"]
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [64, 256, 1024])
