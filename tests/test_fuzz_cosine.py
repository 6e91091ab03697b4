"""Bad-input fuzzing of helpers/cosine.py (notebook 05) with tests/fuzzing.py: every public
function gets one valid call, then every argument is replaced in turn by each of the harness's
bad values; each call must raise ValueError/TypeError naming the argument or return a finite
result, within the time and memory limits, without mutating its inputs."""

import numpy as np

from helpers import cosine as C
from tests.fuzzing import Call, fuzz

X = np.array([1.0, 2.0, -1.0, 0.5, 3.0])
Y = np.array([2.0, 1.0, 1.0, -0.5, 1.0])
SIZES = np.array([2, 3])
GX = np.array([1.0, 2.0, 3.0, 6.0, 7.0, 8.0])
GY = np.array([7.0, 8.0, 9.0, 1.0, 2.0, 3.0])

CALLS = {
    "cosine": Call(C.cosine, X, Y),
    "block_norms": Call(C.block_norms, X, SIZES),
    "block_cosines": Call(C.block_cosines, X, Y, SIZES),
    "block_weights": Call(C.block_weights, X, Y, SIZES),
    "dilution_factor": Call(C.dilution_factor, X, Y, SIZES),
    "decompose": Call(C.decompose, X, Y, SIZES),
    "global_cosine": Call(C.global_cosine, np.array([0.9, 0.5]), np.array([1.0, 2.0]),
                          np.array([2.0, 1.0])),
    "clip_threshold": Call(C.clip_threshold, np.array([0.4, 0.2, 0.6]),
                           np.array([0.5, 0.3, 0.2]), 0.8),
    "cassels_bound": Call(C.cassels_bound, 9.0),
    "ratio_spread": Call(C.ratio_spread, X, Y, SIZES),
    # rng: every bad value must give the TypeError naming rng (none is a Generator)
    "pair_with_local_cosines": Call(C.pair_with_local_cosines, np.array([0.9, 0.5]),
                                    np.array([1.0, 2.0]), np.array([2.0, 1.0]), SIZES,
                                    np.random.default_rng(0)),
    "rotate_to_cosine": Call(C.rotate_to_cosine, X, Y, 0.3),
    "clip_local_cosines": Call(C.clip_local_cosines, X, Y, SIZES, 0.5),
    "pearson": Call(C.pearson, X, Y),
    "within_between": Call(C.within_between, GX, GY, np.array([3, 3])),
    "correlation_split": Call(C.correlation_split, GX, GY, np.array([3, 3])),
    "concat": Call(C.concat, [np.ones((2, 2)), np.arange(3.0)]),
}

# Result types (NamedTuples the functions return, built from already-validated numbers): not
# entry points for user data, so not fuzzed.
RESULT_TYPES = {"CosineSplit", "CovarianceSplit", "CorrelationSplit"}


def test_calls_cover_all_public_names():
    assert set(CALLS) | RESULT_TYPES == set(C.__all__)
    assert not set(CALLS) & RESULT_TYPES


def test_fuzz_cosine():
    total, defects = fuzz(CALLS)
    print(f"fuzzed {len(CALLS)} functions with {total} calls")
    assert total > 1000
    assert not defects, "\n".join(defects)
