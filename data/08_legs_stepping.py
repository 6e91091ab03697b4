"""LegS discretised two ways, for notebook 08 (B4), cached in data/08_legs_stepping.npz.

    python data/08_legs_stepping.py           # writes data/08_legs_stepping.npz (about a minute)
    python data/08_legs_stepping.py --check   # recomputes the cheap slice and compares with the cache

HiPPO-LegS ``x' = (A x + B u)/t`` with N = 16 (post normalisation), run over L midpoint samples of
the notebook's LegS test signal on [0, 3], with ``helpers.hippo.scan_legs``:

* ``stepping="unit"``: the reference code's recurrence, A/k and B/k per unit step from x_0 = 0;
* ``stepping="log"``: steps of ln(k/(k-1)) in tau = ln t, with the exact first step.

Stored: ``L`` and, for each method in METHODS and stepping, the error ``|x_L - c(3)|`` against the
exact projection ``helpers.hippo.project`` (400-node Gauss-Legendre). Deterministic: no random
numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from helpers import hippo  # noqa: E402

N, T = 16, 3.0
LS = (100, 300, 1000, 3000, 10000)
METHODS = ("bilinear", "zoh")
SLICE = {"methods": ("bilinear",), "L": (100, 300)}  # what --check and the notebook rerun live
OUT = Path(__file__).with_suffix(".npz")


def u_s(t):
    """The LegS test signal of notebook 08 (nonzero at t = 0)."""
    t = np.asarray(t, dtype=float)
    return np.sin(2 * np.pi * 0.8 * t) + 0.6 * np.sin(2 * np.pi * 1.7 * t + 0.5) + 0.3 * t + 0.2


def errors(L: int, method: str, stepping: str) -> float:
    A, B = hippo.legs(N)
    x = hippo.scan_legs(A, B, u_s((np.arange(L) + 0.5) * T / L), method, stepping)[-1]
    return float(np.linalg.norm(x - hippo.project(u_s, T, N, "legs")))


def main(argv: list[str]) -> int:
    if "--check" in argv:
        cached = np.load(OUT)
        worst = 0.0
        for m in SLICE["methods"]:
            for s in hippo.STEPPINGS:
                for L in SLICE["L"]:
                    i = list(cached["L"]).index(L)
                    worst = max(worst, abs(errors(L, m, s) / cached[f"{m}_{s}"][i] - 1))
        print(f"slice reruns match the cache to a relative {worst:.1e}")
        return 0 if worst < 1e-9 else 1
    arrays = {f"{m}_{s}": np.array([errors(L, m, s) for L in LS]) for m in METHODS for s in hippo.STEPPINGS}
    np.savez(OUT, L=np.array(LS), **arrays)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
