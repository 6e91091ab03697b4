"""Bad-input fuzzing of helpers/hippo.py (notebook 08) with tests/fuzzing.py: every public
function gets one valid call, then every argument is replaced in turn by each of the harness's
bad values; each call must raise ValueError/TypeError naming the argument or return a finite
result, within the time and memory limits, without mutating its inputs."""

import numpy as np

from helpers import hippo as H
from tests.fuzzing import Call, fuzz

A4, B4 = H.legt(4)
S4, SB4 = H.legs(4)
AD4, BD4 = H.discretize(A4, B4, 0.01, "bilinear")
U8 = np.linspace(0.0, 1.0, 8)
C4 = np.array([1.0, 0.5, -0.2, 0.1])


def signal(t):
    return np.sin(np.asarray(t, dtype=float))


CALLS = {
    "norm_scale": Call(H.norm_scale, 4, "paper"),
    "legt": Call(H.legt, 4, 1.5, "post"),
    "legs": Call(H.legs, 4, "rational"),
    "legt_entrywise": Call(H.legt_entrywise, 4, 1.5),
    "legs_entrywise": Call(H.legs_entrywise, 4),
    "fourier": Call(H.fourier, 2, 1.0, 2),
    "low_rank_correction": Call(H.low_rank_correction, "legt", 4, "post"),
    "discretize": Call(H.discretize, A4, B4, 0.01, "zoh"),
    "scan": Call(H.scan, AD4, BD4, U8, np.zeros(4)),
    "scan_legs": Call(H.scan_legs, S4, SB4, U8, "bilinear", "log"),
    "kernel": Call(H.kernel, AD4, BD4, 8),
    "causal_conv": Call(H.causal_conv, H.kernel(AD4, BD4, 8), U8),
    "legendre_basis": Call(H.legendre_basis, 4, np.array([-0.5, 0.0, 0.5]), "post"),
    "window_map": Call(H.window_map, np.array([-1.0, 0.0, 1.0]), 2.0, "legt", 1.0),
    "project": Call(H.project, signal, 2.0, 4, "legs", 1.0, "post", 50),
    "reconstruct": Call(H.reconstruct, C4, np.array([1.2, 1.5, 2.0]), 2.0, "legt", 1.0, "post"),
}

# Tuples of option names, not functions.
CONSTANTS = {"NORMS", "METHODS", "MEASURES", "STEPPINGS"}


def test_calls_cover_all_public_names():
    assert set(CALLS) | CONSTANTS == set(H.__all__)
    assert not set(CALLS) & CONSTANTS


def test_fuzz_hippo():
    total, defects = fuzz(CALLS)
    print(f"fuzzed {len(CALLS)} functions with {total} calls")
    assert total > 1000
    assert not defects, "\n".join(defects)
