"""Finite-n softmax rows for notebook 03 (section 5.5): where S = exp(-gamma^2/2) can be trusted.

    python data/03_finite_n.py --write      # regenerate data/03_finite_n.npz
    python data/03_finite_n.py              # rerun and compare with the cached file
    python data/03_finite_n.py --n 1000     # the same for one length only (a few seconds)

For each length n in NS, ROWS[n] rows p = softmax(gamma * eps), eps ~ N(0, I_n), drawn with
numpy.random.default_rng(SEED + k) (k the index of n) and shared by every gamma on GAMMAS
(common random numbers); stored: the 10/50/90 % quantiles over rows of N_eff = 1/sum p^2
(S^2 = N_eff/n), the gamma at which the median N_eff is 10 (bisection on the same rows), and the
median N_eff at the plug-in answer gamma = sqrt(log(n/10)). The computation is
helpers.attention_focus.softmax_row_neff, float64 numpy, deterministic given the seeds; the
comparison is exact to 1e-10. The notebook's seed sweep does not re-draw this file.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from helpers import attention_focus as A  # noqa: E402

OUT = ROOT / "data" / "03_finite_n.npz"
NS = (100, 1000, 10_000, 100_000, 1_000_000)
ROWS = {100: 400, 1000: 400, 10_000: 400, 100_000: 200, 1_000_000: 100}
GAMMAS = np.round(np.arange(0.0, 6.01, 0.1), 10)
SEED = 3000
TARGET = 10.0  # the N_eff of exercise 5


def median_neff(gamma: float, eps_rows: list[np.ndarray]) -> float:
    vals = []
    for x in eps_rows:
        e = np.exp(gamma * x)
        vals.append(e.sum() ** 2 / (e * e).sum())
    return float(np.median(vals))


def one(n: int) -> dict[str, np.ndarray]:
    k = NS.index(n)
    neff = A.softmax_row_neff(GAMMAS, n, ROWS[n], np.random.default_rng(SEED + k))
    rg = np.random.default_rng(SEED + k)  # the same rows again, for the bisection
    eps_rows = []
    for _ in range(ROWS[n]):
        eps = rg.standard_normal(n)
        eps_rows.append(eps - eps.max())
    lo, hi = 0.0, 8.0  # median N_eff decreases in gamma: from n to about 1
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if median_neff(mid, eps_rows) > TARGET else (lo, mid)
    plug = math.sqrt(math.log(n / TARGET))
    return {
        "quantiles": np.quantile(neff, [0.1, 0.5, 0.9], axis=1),  # (3, len(GAMMAS))
        "gamma_target": np.array(0.5 * (lo + hi)),
        "neff_at_plugin": np.array(median_neff(plug, eps_rows)),
    }


def run(ns=NS, verbose: bool = True) -> dict[str, np.ndarray]:
    parts = []
    for n in ns:
        t = time.time()
        parts.append(one(n))
        if verbose:
            print(f"  n = {n}: gamma(median N_eff = 10) = {float(parts[-1]['gamma_target']):.3f}, "
                  f"median N_eff at the plug-in gamma = {float(parts[-1]['neff_at_plugin']):.1f} "
                  f"({time.time() - t:.0f} s)", flush=True)
    return {
        "ns": np.array(ns), "rows": np.array([ROWS[n] for n in ns]), "gammas": GAMMAS,
        "quantiles": np.stack([p["quantiles"] for p in parts]),  # (len(ns), 3, len(GAMMAS))
        "gamma_target": np.array([p["gamma_target"] for p in parts]),
        "neff_at_plugin": np.array([p["neff_at_plugin"] for p in parts]),
    }


def compare(cached: dict, fresh: dict, ns) -> float:
    """Largest relative difference between the rerun and the cached entries for ``ns``."""
    idx = [list(cached["ns"]).index(n) for n in ns]
    worst = 0.0
    for key in ("quantiles", "gamma_target", "neff_at_plugin"):
        a, b = np.asarray(cached[key])[idx], np.asarray(fresh[key])
        worst = max(worst, float(np.max(np.abs(a - b) / np.abs(a))))
    return worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="regenerate the cached file")
    ap.add_argument("--n", type=int, nargs="*", default=list(NS), help="lengths to run")
    args = ap.parse_args()
    fresh = run(tuple(args.n))
    if args.write:
        if tuple(args.n) != NS:
            raise SystemExit("--write needs every n")
        np.savez_compressed(OUT, **fresh)
        print(f"wrote {OUT}")
        return 0
    with np.load(OUT) as f:
        cached = dict(f)
    worst = compare(cached, fresh, tuple(args.n))
    print(f"largest relative difference from the cache: {worst:.1e}")
    return 0 if worst < 1e-10 else 1


if __name__ == "__main__":
    sys.exit(main())
