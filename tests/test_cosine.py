"""Unit and property tests of helpers/cosine.py (notebook 05: local versus global cosine)."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import cosine as C

FEW = settings(max_examples=60, deadline=None)
TOL = 1e-12


# --- strategies ------------------------------------------------------------------------------


@st.composite
def blocked_pairs(draw, max_blocks: int = 6, max_size: int = 5, spread: int = 6):
    """(x, y, sizes) with every block of both vectors non-zero; block scales span 10^+-spread."""
    sizes = draw(st.lists(st.integers(1, max_size), min_size=1, max_size=max_blocks))
    exps = draw(hnp.arrays(np.int64, (2, len(sizes)), elements=st.integers(-spread, spread)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    x = rng.standard_normal(n) * np.repeat(10.0 ** exps[0], sizes)
    y = rng.standard_normal(n) * np.repeat(10.0 ** exps[1], sizes)
    return x, y, np.array(sizes)


@st.composite
def raw_pairs(draw):
    """(x, y, sizes) straight from hypothesis' floats (zeros, repeats, extremes), no zero block."""
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=5))
    n = sum(sizes)
    el = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    x = draw(hnp.arrays(np.float64, n, elements=el))
    y = draw(hnp.arrays(np.float64, n, elements=el))
    bounds = np.cumsum([0, *sizes])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        assume(np.any(x[lo:hi] != 0) and np.any(y[lo:hi] != 0))
    return x, y, np.array(sizes)


def naive_cos(x, y):
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


# --- the post's examples ---------------------------------------------------------------------


def test_post_counterexample():
    x, y = np.array([1.0, 1.0]), np.array([1.0, 2.0])
    np.testing.assert_array_equal(C.block_cosines(x, y, [1, 1]), [1.0, 1.0])
    assert C.cosine(x, y) == pytest.approx(3 / math.sqrt(10), rel=1e-15)
    assert C.dilution_factor(x, y, [1, 1]) == pytest.approx(3 / math.sqrt(10), rel=1e-15)


def test_all_negative_locals_break_the_upper_bound():
    x, y = np.array([1.0, 0.01]), np.array([-0.01, -1.0])
    np.testing.assert_array_equal(C.block_cosines(x, y, [1, 1]), [-1.0, -1.0])
    assert C.cosine(x, y) == pytest.approx(-0.02 / 1.0001, rel=1e-14)
    assert C.cosine(x, y) > -1.0


@pytest.mark.parametrize("eps", [1e-1, 1e-3, 1e-6])
def test_vanishing_lower_bound_closed_form(eps):
    rng = np.random.default_rng(1)
    x, y = C.pair_with_local_cosines([0.99, 0.8], [eps, 1.0], [1.0, eps], [3, 4], rng)
    np.testing.assert_allclose(C.block_cosines(x, y, [3, 4]), [0.99, 0.8], atol=TOL)
    assert C.cosine(x, y) == pytest.approx(eps * (0.99 + 0.8) / (1 + eps**2), rel=1e-10)


def test_simpson_numbers():
    x = np.array([1, 2, 3, 6, 7, 8.0])
    y = np.array([7, 8, 9, 1, 2, 3.0])
    split = C.within_between(x, y, [3, 3])
    assert split == (pytest.approx(4.0, abs=TOL), pytest.approx(-45.0, abs=TOL))
    assert C.pearson(x[:3], y[:3]) == pytest.approx(1.0, abs=TOL)
    assert C.pearson(x, y) == pytest.approx(-41 / math.sqrt(41.5 * 58), rel=1e-13)
    # the pooled r is the global cosine of the blocks centred at the *global* means
    d = C.decompose(x - x.mean(), y - y.mean(), [3, 3])
    assert d.cos == pytest.approx(C.pearson(x, y), rel=1e-13)
    assert np.all(d.local < 0)


# --- identities for all inputs ---------------------------------------------------------------


@FEW
@given(blocked_pairs())
def test_factorisation(pair):
    x, y, sizes = pair
    d = C.decompose(x, y, sizes)
    assert d.cos == pytest.approx(d.dilution * d.mean_local, abs=TOL)
    assert d.weights.sum() == pytest.approx(1.0, abs=TOL) and np.all(d.weights >= 0)
    assert C.block_weights(x, y, sizes).sum() == pytest.approx(d.dilution, abs=TOL)
    assert d.cos == pytest.approx(float(C.block_weights(x, y, sizes) @ d.local), abs=TOL)


@FEW
@given(raw_pairs())
def test_factorisation_on_raw_floats(pair):
    x, y, sizes = pair
    d = C.decompose(x, y, sizes)
    assert d.cos == pytest.approx(d.dilution * d.mean_local, abs=1e-10)
    assert -1 <= d.cos <= 1 and np.all(np.abs(d.local) <= 1) and 0 <= d.dilution <= 1


@FEW
@given(blocked_pairs())
def test_global_cosine_from_block_data(pair):
    x, y, sizes = pair
    recon = C.global_cosine(C.block_cosines(x, y, sizes), C.block_norms(x, sizes),
                            C.block_norms(y, sizes))
    assert float(recon) == pytest.approx(C.cosine(x, y), abs=TOL)


@FEW
@given(blocked_pairs())
def test_two_sided_bound(pair):
    x, y, sizes = pair
    d = C.decompose(x, y, sizes)
    assert d.dilution * d.local.min() - TOL <= d.cos <= d.dilution * d.local.max() + TOL
    assert min(0.0, d.local.min()) - TOL <= d.cos <= max(0.0, d.local.max()) + TOL
    if d.local.max() >= 0:  # the post's eq. (5), with the sign condition it really needs
        assert d.cos <= d.local.max() + TOL
    if d.local.min() > 0:  # no sign reversal for plain cosines
        assert d.cos > 0


@FEW
@given(blocked_pairs())
def test_cassels_lower_bound(pair):
    x, y, sizes = pair
    d = C.decompose(x, y, sizes)
    bound = C.cassels_bound(C.ratio_spread(x, y, sizes))
    assert d.dilution >= bound * (1 - 1e-12)
    if d.local.min() >= 0:
        assert d.cos >= d.local.min() * bound - TOL


@FEW
@given(blocked_pairs(), st.floats(1e-3, 1e3), st.floats(1e-3, 1e3))
def test_scaling(pair, s, t):
    x, y, sizes = pair
    assert C.cosine(s * x, t * y) == pytest.approx(C.cosine(x, y), abs=TOL)
    assert C.cosine(x, -y) == pytest.approx(-C.cosine(x, y), abs=TOL)
    assert C.cosine(y, x) == pytest.approx(C.cosine(x, y), abs=TOL)
    # rescaling single blocks changes the global cosine but no local one
    k = len(sizes)
    scale = np.repeat(np.geomspace(1e-2, 1e2, k), sizes)
    np.testing.assert_allclose(C.block_cosines(scale * x, y, sizes), C.block_cosines(x, y, sizes),
                               atol=TOL)


@FEW
@given(blocked_pairs())
def test_against_naive_formulas(pair):
    x, y, sizes = pair
    bounds = np.cumsum([0, *sizes])
    blocks = list(zip(bounds[:-1], bounds[1:]))
    assert C.cosine(x, y) == pytest.approx(naive_cos(x, y), abs=1e-12)
    np.testing.assert_allclose(
        C.block_cosines(x, y, sizes), [naive_cos(x[a:b], y[a:b]) for a, b in blocks], atol=1e-12)
    a = np.array([np.linalg.norm(x[lo:hi]) for lo, hi in blocks])
    np.testing.assert_allclose(C.block_norms(x, sizes), a, rtol=1e-12)


def test_one_block_and_singletons():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((2, 7))
    assert C.block_cosines(x, y, [7])[0] == pytest.approx(C.cosine(x, y), abs=TOL)
    assert C.dilution_factor(x, y, [7]) == 1.0
    ones = np.ones(7, dtype=int)
    np.testing.assert_array_equal(C.block_cosines(x, y, ones), np.sign(x * y))
    assert C.dilution_factor(x, y, ones) == pytest.approx(naive_cos(abs(x), abs(y)), abs=TOL)


def test_extreme_scales_do_not_underflow():
    x = np.array([1e-200, 2e-200, 1e200, 3e200])
    y = np.array([2e-200, 4e-200, -3e200, 1e200])
    np.testing.assert_allclose(C.block_cosines(x, y, [2, 2]), [1.0, 0.0], atol=TOL)
    np.testing.assert_allclose(C.block_norms(x, [2, 2]), [math.sqrt(5) * 1e-200,
                                                          math.sqrt(10) * 1e200], rtol=1e-14)
    assert C.cosine(x, y) == pytest.approx(0.0, abs=TOL)


def test_zero_blocks_allowed_where_defined():
    x = np.array([0.0, 0.0, 1.0, 2.0])
    y = np.array([1.0, 1.0, 1.0, 2.0])
    assert C.dilution_factor(x, y, [2, 2]) == pytest.approx(math.sqrt(5) / math.sqrt(7), rel=1e-14)
    np.testing.assert_allclose(C.block_weights(x, y, [2, 2]), [0.0, 5 / math.sqrt(35)], rtol=1e-14)


# --- constructions ---------------------------------------------------------------------------


@FEW
@given(st.lists(st.tuples(st.floats(-1, 1), st.floats(1e-4, 1e4), st.floats(1e-4, 1e4),
                          st.integers(2, 6)), min_size=1, max_size=5), st.integers(0, 2**32 - 1))
def test_pair_with_local_cosines(blocks, seed):
    c, a, b, d = map(np.array, zip(*blocks))
    x, y = C.pair_with_local_cosines(c, a, b, d, np.random.default_rng(seed))
    np.testing.assert_allclose(C.block_cosines(x, y, d), c, atol=1e-12)
    np.testing.assert_allclose(C.block_norms(x, d), a, rtol=1e-12)
    np.testing.assert_allclose(C.block_norms(y, d), b, rtol=1e-12)
    np.testing.assert_allclose(C.global_cosine(c, a, b), C.cosine(x, y), atol=1e-12)


@FEW
@given(blocked_pairs(), st.floats(-0.99, 0.99))
def test_clip_local_cosines(pair, lam):
    u, g, sizes = pair
    assume(np.all(sizes >= 2))
    before = C.block_cosines(u, g, sizes)
    v = C.clip_local_cosines(u, g, sizes, lam)
    after = C.block_cosines(v, g, sizes)
    np.testing.assert_allclose(after, np.maximum(before, lam), atol=1e-9)
    np.testing.assert_allclose(C.block_norms(v, sizes), C.block_norms(u, sizes), rtol=1e-12)
    # the norms, hence the dilution factor, are untouched: global >= D * lam
    d = C.decompose(v, g, sizes)
    assert d.dilution == pytest.approx(C.dilution_factor(u, g, sizes), abs=TOL)
    assert d.cos >= d.dilution * lam - 1e-9


@pytest.mark.parametrize("lam", [-1.0, -0.3, 0.0, 0.5, 1.0])
def test_rotate_parallel_and_antiparallel(lam):
    g = np.array([1.0, 2.0, 3.0])
    for u in (2 * g, -g):
        v = C.rotate_to_cosine(u, g, lam)
        assert C.cosine(v, g) == pytest.approx(lam, abs=1e-12)
        assert np.linalg.norm(v) == pytest.approx(np.linalg.norm(u), rel=1e-14)


def test_cassels_bound_is_tight_for_two_blocks():
    kappa = 9.0
    a, b = np.array([1.0, math.sqrt(kappa)]), np.array([math.sqrt(kappa), 1.0])
    assert C.cassels_bound(kappa) == pytest.approx(0.6, rel=1e-15)
    assert float(C.global_cosine([1.0, 1.0], a, b)) == pytest.approx(0.6, rel=1e-14)
    np.testing.assert_allclose(C.cassels_bound([1.0, 4.0]), [1.0, 0.8])


def test_pearson_matches_numpy():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(50)
    y = 0.3 * x + rng.standard_normal(50) + 5
    assert C.pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-13)


@FEW
@given(blocked_pairs())
def test_within_between_adds_up(pair):
    x, y, sizes = pair
    split = C.within_between(x, y, sizes)
    pooled = float(np.sum((x - x.mean()) * (y - y.mean())))
    scale = np.linalg.norm(x - x.mean()) * np.linalg.norm(y - y.mean())
    assert split.within + split.between == pytest.approx(pooled, abs=1e-12 * scale)


def test_concat_round_trip():
    torch = pytest.importorskip("torch")
    blocks = [np.arange(6.0).reshape(2, 3), torch.ones(4, requires_grad=True), [7.0]]
    v, sizes = C.concat(blocks)
    np.testing.assert_array_equal(sizes, [6, 4, 1])
    np.testing.assert_array_equal(v, [0, 1, 2, 3, 4, 5, 1, 1, 1, 1, 7])
    assert v.dtype == np.float64


# --- bad input: the error names the argument and says why --------------------------------------


@pytest.mark.parametrize(
    "args, exc, match",
    [
        (([1.0, 2.0], [1.0, 2.0, 3.0], [2]), ValueError, r"^y: length 3 does not match"),
        (([1.0, 2.0], [1.0, 2.0], [1]), ValueError,
         r"^sizes: the block sizes sum to 1, not to the length 2 of x"),
        (([1.0, 2.0], [1.0, 2.0], [2, 0]), ValueError, r"^sizes: expected every block size >= 1"),
        (([1.0, 2.0], [1.0, 2.0], []), ValueError, r"^sizes: expected a non-empty"),
        (([1.0, 2.0], [1.0, 2.0], [1.0, 1.0]), TypeError, r"^sizes: expected integers"),
        (([0.0, 2.0], [1.0, 2.0], [1, 1]), ValueError, r"^x: block 0 \(entries 0:1\) is zero"),
        (([1.0, 2.0, 3.0], [1.0, 0.0, 0.0], [1, 2]), ValueError,
         r"^y: block 1 \(entries 1:3\) is zero, so its local cosine is undefined"),
        (([np.nan, 2.0], [1.0, 2.0], [1, 1]), ValueError, r"^x: expected numbers, found NaN"),
        (([1.0, 2.0], [np.inf, 2.0], [1, 1]), ValueError,
         r"^y: expected finite numbers, found inf"),
        (([[1.0, 2.0]], [1.0, 2.0], [2]), ValueError, r"^x: expected 1 dimension\(s\)"),
        ((["a", "b"], [1.0, 2.0], [2]), TypeError, r"^x: expected real numbers"),
        (([1 + 1j, 2.0], [1.0, 2.0], [2]), TypeError, r"^x: expected real numbers"),
    ],
)
def test_block_cosines_rejects(args, exc, match):
    with pytest.raises(exc, match=match):
        C.block_cosines(*args)


def test_other_rejections():
    with pytest.raises(ValueError, match=r"^x: the zero vector"):
        C.cosine([0.0, 0.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"^y: the zero vector"):
        C.dilution_factor([1.0, 2.0], [0.0, 0.0], [1, 1])
    with pytest.raises(ValueError, match=r"^y: length"):
        C.dilution_factor([1.0, 2.0], [1.0], [2])
    with pytest.raises(ValueError, match=r"^local: expected values <= 1, got 1.5"):
        C.global_cosine([1.5], [1.0], [1.0])
    with pytest.raises(ValueError, match=r"^x_norms: expected values >= 0"):
        C.global_cosine([0.5, 0.5], [-1.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"do not broadcast"):
        C.global_cosine([0.5, 0.5], [1.0, 1.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"^kappa: expected values >= 1"):
        C.cassels_bound(0.5)
    with pytest.raises(ValueError, match=r"^local: a block of size 1"):
        C.pair_with_local_cosines([0.5], [1.0], [1.0], [1], np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"^rng: expected a numpy.random.Generator"):
        C.pair_with_local_cosines([0.5], [1.0], [1.0], [2], 0)
    with pytest.raises(ValueError, match=r"^lam: expected a cosine in \[-1, 1\]"):
        C.rotate_to_cosine([1.0, 0.0], [0.0, 1.0], 1.5)
    with pytest.raises(ValueError, match=r"^x: constant data"):
        C.pearson([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"^blocks: expected a non-empty sequence"):
        C.concat([])
    with pytest.raises(ValueError, match=r"^x: block 1 is zero, so its norm ratio"):
        C.ratio_spread([1.0, 0.0], [1.0, 1.0], [1, 1])


# --- issue 15: overflow-safe norms, torch inputs, one validation layer -------------------------


def test_rotate_to_cosine_does_not_overflow():
    v = C.rotate_to_cosine(np.array([3e200, 4e200]), np.array([1.0, 0.0]), 0.3)
    assert np.all(np.isfinite(v))
    np.testing.assert_allclose(v, [0.3 * 5e200, math.sqrt(1 - 0.09) * 5e200], rtol=1e-14)
    tiny = C.rotate_to_cosine(np.array([3e-300, 4e-300]), np.array([1e-300, 0.0]), 0.3)
    np.testing.assert_allclose(tiny, [0.3 * 5e-300, math.sqrt(0.91) * 5e-300], rtol=1e-13)


def test_huge_entries_stay_finite():
    x = np.array([3e300, -4e300, 1e300])
    y = np.array([1e300, 2e300, -1e300])
    assert C.cosine(x, y) == pytest.approx(naive_cos(x / 1e300, y / 1e300), abs=TOL)
    assert C.pearson(x, y) == pytest.approx(C.pearson(x / 1e300, y / 1e300), abs=TOL)
    assert C.cassels_bound(1e300) == pytest.approx(2e-150, rel=1e-14)
    assert C.cassels_bound(math.inf) == 0.0


def test_torch_tensors_that_require_grad_or_are_bfloat16():
    torch = pytest.importorskip("torch")
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = torch.tensor([1.0, 1.0, -1.0, 2.0], dtype=torch.bfloat16)
    xn, yn = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 1.0, -1.0, 2.0])
    assert C.cosine(x, y) == pytest.approx(C.cosine(xn, yn), abs=TOL)
    np.testing.assert_allclose(C.block_cosines(x, y, torch.tensor([2, 2])),
                               C.block_cosines(xn, yn, [2, 2]), atol=TOL)
    lam = torch.tensor(0.5, requires_grad=True)
    np.testing.assert_allclose(C.rotate_to_cosine(x, y, lam), C.rotate_to_cosine(xn, yn, 0.5),
                               atol=1e-12)
    assert isinstance(C.cosine(x, y), float)
    with pytest.raises(TypeError, match=r"^sizes: expected integers, got a tensor"):
        C.block_cosines(x, y, torch.tensor([2.0, 2.0]))
    with pytest.raises(TypeError, match=r"^x: expected real numbers, got a complex tensor"):
        C.cosine(torch.ones(2, dtype=torch.complex64), [1.0, 1.0])


@pytest.mark.parametrize("fn, args", [
    (C.cosine, ([1 + 1j, 2.0], [1.0, 2.0])),
    (C.pearson, ([1.0, 2.0, 3.0], [1.0, 2j, 3.0])),
    (C.rotate_to_cosine, ([1.0, 2.0], [1.0, 0.0], 0.5 + 0.1j)),
])
def test_complex_input_is_rejected(fn, args):
    with pytest.raises(TypeError, match="complex|real"):
        fn(*args)


def test_sizes_and_memory_checked_before_allocating():
    with pytest.raises(ValueError, match=r"^sizes: this call would need"):
        C.pair_with_local_cosines([0.5], [1.0], [1.0], [10**12], np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"^sizes: expected integers"):
        C.block_norms([1.0, 2.0], [True, True])
    with pytest.raises(ValueError, match=r"^lam: expected a number, got nan"):
        C.clip_local_cosines([1.0, 2.0], [2.0, 1.0], [2], math.nan)


# --- lambda*, the threshold of Su's truncation -------------------------------------------------


@FEW
@given(blocked_pairs())
def test_clip_threshold_is_the_crossing(pair):
    from scipy.optimize import brentq

    u, g, sizes = pair
    d = C.decompose(u, g, sizes)
    assume(d.dilution < 1 - 1e-9)
    lam_star = C.clip_threshold(d.local, d.weights, d.dilution)
    f = lambda lam: d.dilution * float(d.weights @ np.maximum(d.local, lam)) - lam
    assert abs(f(lam_star)) < 1e-12  # a root ...
    slope = 1 - d.dilution * d.weights[d.local < lam_star].sum()  # |f'| near the root, >= 1 - D
    assert lam_star == pytest.approx(brentq(f, -1, 1, xtol=1e-15), abs=1e-12 / slope)  # the one
    if np.all(sizes >= 2):  # the formula is what actual clipping does
        clipped = C.cosine(C.clip_local_cosines(u, g, sizes, lam_star), g)
        assert clipped == pytest.approx(lam_star, abs=1e-9)
    if d.cos <= d.local.min():  # no block needs clipping: lambda* is the global cosine
        assert lam_star == pytest.approx(d.cos, abs=1e-12)


def test_clip_threshold_edge_cases():
    assert C.clip_threshold([0.3, 0.7], [0.5, 0.5], 1.0) == pytest.approx(0.7, abs=1e-15)
    assert C.clip_threshold([0.5, 0.5], [1.0, 3.0], 0.8) == pytest.approx(0.4, abs=1e-15)
    # all weight on the low block, D = 0.5: f(lam) = 0.5 lam - lam < 0 above 0.2 = global
    assert C.clip_threshold([0.4, 0.9], [1.0, 0.0], 0.5) == pytest.approx(0.2, abs=1e-15)
    with pytest.raises(ValueError, match=r"^dilution: expected values > 0"):
        C.clip_threshold([0.5], [1.0], 0.0)
    with pytest.raises(ValueError, match=r"^weights: expected non-negative"):
        C.clip_threshold([0.5, 0.2], [1.0, -1.0], 0.5)
    with pytest.raises(ValueError, match=r"^weights: length 1 does not match"):
        C.clip_threshold([0.5, 0.2], [1.0], 0.5)


# --- the exact correlation split (issue 17) ---------------------------------------------------


def test_correlation_split_on_simpson_data():
    x = np.array([1, 2, 3, 6, 7, 8.0])
    y = np.array([7, 8, 9, 1, 2, 3.0])
    s = C.correlation_split(x, y, [3, 3])
    assert s.r_within == pytest.approx(1.0, abs=TOL) and s.r_between == pytest.approx(-1, abs=TOL)
    t = math.sqrt(41.5 * 58)
    assert s.w_within == pytest.approx(4 / t, rel=1e-14)  # sqrt(W_xx W_yy) = sqrt(4 * 4)
    assert s.w_between == pytest.approx(45 / t, rel=1e-14)  # sqrt(37.5 * 54) = 45
    assert round(s.w_within, 4) == 0.0815 and round(s.w_between, 4) == 0.9172
    assert s.r_pooled == pytest.approx(s.w_within * s.r_within + s.w_between * s.r_between,
                                       abs=TOL)


@st.composite
def grouped_data(draw):
    """(x, y, sizes): 2-6 groups of 2-8 points, random within-slopes and scattered group means."""
    sizes = draw(st.lists(st.integers(2, 8), min_size=2, max_size=6))
    seed = draw(st.integers(0, 2**32 - 1))
    spread = draw(st.floats(1e-3, 1e3))
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    means = np.repeat(rng.standard_normal((2, len(sizes))) * spread, sizes, axis=1)
    x = rng.standard_normal(n) + means[0]
    y = rng.uniform(-2, 2) * x + rng.standard_normal(n) + means[1]
    return x, y, np.array(sizes)


@FEW
@given(grouped_data())
def test_correlation_split_identity_against_independent_formulas(data):
    x, y, sizes = data
    s = C.correlation_split(x, y, sizes)
    assert s.r_pooled == pytest.approx(s.w_within * s.r_within + s.w_between * s.r_between,
                                       abs=1e-12)
    assert s.r_pooled == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    mx = np.array([x[groups == k].mean() for k in range(len(sizes))])
    my = np.array([y[groups == k].mean() for k in range(len(sizes))])
    # r_within: Pearson's r of the group-centred data; r_between: n_g-weighted r of the means
    assert s.r_within == pytest.approx(np.corrcoef(x - mx[groups], y - my[groups])[0, 1],
                                       abs=1e-12)
    cov = np.cov(mx, my, fweights=sizes)
    assert s.r_between == pytest.approx(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]), abs=1e-12)
    # the weights are the products of variance shares, and sum to at most 1 (Cauchy-Schwarz)
    vx = np.var(x) * x.size
    wxx = np.sum((x - mx[groups]) ** 2)
    wyy = np.sum((y - my[groups]) ** 2)
    assert s.w_within == pytest.approx(math.sqrt(wxx * wyy / (vx * np.var(y) * y.size)),
                                       rel=1e-10)
    assert s.w_within + s.w_between <= 1 + 1e-12
    # the covariance split agrees: W_xy + B_xy = T_xy
    split = C.within_between(x, y, sizes)
    assert split.within == pytest.approx(s.r_within * math.sqrt(wxx * wyy),
                                         abs=1e-9 * math.sqrt(wxx * wyy))


def test_correlation_split_rejects_undefined_parts():
    with pytest.raises(ValueError, match=r"^x: all group means are equal \(or sizes has one"):
        C.correlation_split([1.0, 2.0, 3.0], [1.0, 3.0, 2.0], [3])
    with pytest.raises(ValueError, match=r"^y: no variation within any group"):
        C.correlation_split([1.0, 2.0, 3.0, 5.0], [1.0, 1.0, 2.0, 2.0], [2, 2])
