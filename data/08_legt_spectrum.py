"""Exact eigenvalues of HiPPO-LegT (theta = 1) for notebook 08, cached in data/08_legt_spectrum.npz.

    python data/08_legt_spectrum.py           # writes data/08_legt_spectrum.npz (a few minutes)
    python data/08_legt_spectrum.py --check   # recomputes the N = 16 slice and compares with the cache

Why this is exact: LegT's read-out of u(T - theta) is the [N-1/N] Pade approximant of exp(-s)
(notebook 08, B1), so det(sI - A) is proportional to the Pade denominator
q(s) = sum_j (2N-1-j)! N! / ((2N-1)! j! (N-j)!) s^j, whose coefficients are rationals. Its roots are
computed with mpmath.polyroots at ``DPS`` decimal digits (plus working precision), with mpmath's own
error estimate required below 10^-40; they are stored rounded to complex128, which is exact to the
last bit for every use in the notebook (the errors it measures are >= 1e-10). Deterministic: no
random numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mpmath as mp
import numpy as np

SIZES = (4, 8, 12, 16, 20, 22, 24, 26, 28, 32, 40, 48, 64)
DPS = 60
OUT = Path(__file__).with_suffix(".npz")


def pade_denominator(N: int) -> list:
    """Coefficients of q, constant term first, as mpmath numbers (exact rationals at DPS digits)."""
    m, n = N - 1, N
    f = mp.factorial
    return [f(m + n - j) * f(n) / (f(m + n) * f(j) * f(n - j)) for j in range(n + 1)]


def exact_spectrum(N: int) -> np.ndarray:
    """The N roots of q (= the eigenvalues of legt(N, 1.0)), sorted by imaginary then real part."""
    mp.mp.dps = DPS
    coef = pade_denominator(N)
    roots, err = mp.polyroots(coef[::-1], maxsteps=800, extraprec=8 * N + 100, error=True)
    if not err < mp.mpf(10) ** -40:
        raise RuntimeError(f"N = {N}: polyroots error estimate {err} too large")
    z = np.array([complex(r) for r in roots])
    return z[np.lexsort((z.real, z.imag))]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        cached = np.load(OUT)["N16"]
        fresh = exact_spectrum(16)
        diff = float(np.abs(fresh - cached).max() / np.abs(cached).max())
        print(f"N = 16: max relative difference from the cache {diff:.1e}")
        return 0 if diff < 1e-14 else 1
    arrays = {f"N{N}": exact_spectrum(N) for N in SIZES}
    np.savez(OUT, sizes=np.array(SIZES), **arrays)
    print(f"wrote {OUT} ({len(SIZES)} sizes, mpmath {mp.__version__}, {DPS} digits)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
