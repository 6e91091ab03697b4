"""Unit and property tests of the helpers/attention_focus.py (can attention focus?)."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import ndtr

from helpers import attention_focus as A

FEW = settings(max_examples=40, deadline=None)

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
vectors = hnp.arrays(np.float64, st.integers(1, 40), elements=finite).filter(
    lambda v: np.abs(v).max() > 1e-6
)
nonneg_vectors = hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(0, 1e3)).filter(
    lambda v: v.max() > 1e-6
)


# --- the sparsity index -----------------------------------------------------------------------


def test_sparsity_extremes():
    n = 1000
    one_hot = np.zeros(n)
    one_hot[17] = 3.0
    assert A.sparsity(one_hot) == pytest.approx(1 / math.sqrt(n), rel=1e-14)
    assert A.sparsity(np.full(n, -2.5)) == pytest.approx(1.0, rel=1e-14)
    assert A.sparsity_bounds(n) == (pytest.approx(1 / math.sqrt(n)), 1.0)


@FEW
@given(vectors)
def test_sparsity_lies_in_its_range(x):
    lo, hi = A.sparsity_bounds(x.size)
    s = A.sparsity(x)
    assert lo * (1 - 1e-12) <= s <= hi * (1 + 1e-12)


@FEW
@given(vectors, st.floats(1e-3, 1e3), st.integers(0, 2**32 - 1))
def test_sparsity_ignores_scale_and_signs(x, c, seed):
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=x.size)
    assert A.sparsity(c * signs * x) == pytest.approx(A.sparsity(x), rel=1e-12)


@FEW
@given(vectors)
def test_sparsity_is_the_l1_over_l2_ratio(x):
    y = x / np.abs(x).max()
    expected = np.abs(y).sum() / (math.sqrt(y.size) * np.linalg.norm(y))
    assert A.sparsity(x) == pytest.approx(expected, rel=1e-12)


@FEW
@given(nonneg_vectors)
def test_norm_ratio_of_the_post_lies_in_one_over_sqrt_d_to_one(q):
    # ||q||_2 / ||q||_1 = 1 / (sqrt(d) S(q)), so its range is [1/sqrt(d), 1], not up to sqrt(d)
    ratio = np.linalg.norm(q) / q.sum()
    assert 1 / math.sqrt(q.size) * (1 - 1e-12) <= ratio <= 1 + 1e-12
    assert ratio == pytest.approx(1 / (math.sqrt(q.size) * A.sparsity(q)), rel=1e-12)


@FEW
@given(nonneg_vectors)
def test_sparsity_squared_is_effective_tokens_over_n(w):
    p = w / w.sum()
    assert A.sparsity(p) ** 2 == pytest.approx(A.effective_tokens(p) / p.size, rel=1e-10)


def test_sparsity_along_an_axis():
    x = np.random.default_rng(0).normal(size=(3, 5, 7))
    rows = A.sparsity(x, axis=1)
    assert rows.shape == (3, 7)
    assert rows[2, 4] == pytest.approx(A.sparsity(x[2, :, 4]))
    assert A.sparsity(x, axis=-1).shape == (3, 5)


@pytest.mark.parametrize(
    "x, axis, error",
    [
        (np.zeros(4), -1, ValueError),
        (np.zeros((2, 0)), -1, ValueError),
        ([1.0, np.nan], -1, ValueError),
        ([1.0, np.inf], -1, ValueError),
        ([1 + 1j, 2.0], -1, TypeError),
        (["a", "b"], -1, TypeError),
        (3.0, -1, ValueError),
        ([1.0, 2.0], 1, ValueError),
        ([1.0, 2.0], 0.5, TypeError),
    ],
)
def test_sparsity_rejects_bad_input(x, axis, error):
    with pytest.raises(error):
        A.sparsity(x, axis=axis)


def test_sparsity_bounds_rejects_bad_n():
    with pytest.raises(ValueError):
        A.sparsity_bounds(0)
    with pytest.raises(TypeError):
        A.sparsity_bounds(2.0)


def test_sparsity_mc_standard_error_matches_the_spread():
    rng = np.random.default_rng(1)
    draws = rng.normal(0.3, 1.0, size=(300, 2000))
    estimates = np.array([A.sparsity_mc(d) for d in draws])
    assert estimates[0, 0] == pytest.approx(A.sparsity(draws[0]), rel=1e-12)
    assert estimates[:, 1].mean() == pytest.approx(estimates[:, 0].std(), rel=0.15)
    with pytest.raises(ValueError):
        A.sparsity_mc(np.ones((2, 2)))


# --- Gaussian reduction: numerical integration and closed forms -------------------------------


@pytest.mark.parametrize("beta, gamma", [(0.0, 1.0), (-1.5, 0.4), (2.0, 2.5)])
def test_gaussian_expectation_moments(beta, gamma):
    assert A.gaussian_expectation(lambda x: x, beta, gamma) == pytest.approx(beta, abs=1e-12)
    assert A.gaussian_expectation(lambda x: x * x, beta, gamma) == pytest.approx(
        beta**2 + gamma**2, rel=1e-11
    )
    assert A.gaussian_expectation(math.exp, beta, gamma) == pytest.approx(
        math.exp(beta + gamma**2 / 2), rel=1e-11
    )


def test_gaussian_expectation_rejects_bad_input():
    with pytest.raises(TypeError):
        A.gaussian_expectation(3.0, 0.0, 1.0)
    with pytest.raises(ValueError):
        A.gaussian_expectation(math.exp, 0.0, 0.0)
    with pytest.raises(ValueError):
        A.sparsity_gaussian(lambda x: 0.0, 0.0, 1.0)


GRID = [(b, g) for b in (-2.0, -0.5, 0.0, 1.0) for g in (0.3, 1.0, 2.5)]


@pytest.mark.parametrize("beta, gamma", GRID)
def test_closed_forms_match_quadrature(beta, gamma):
    assert A.sparsity_exp(beta, gamma) == pytest.approx(
        A.sparsity_gaussian(math.exp, beta, gamma), rel=1e-10
    )
    relu2 = A.sparsity_gaussian(lambda x: max(x, 0.0) ** 2, beta, gamma, kinks=[0.0])
    assert A.sparsity_relu2(beta, gamma) == pytest.approx(relu2, rel=1e-9)
    relu = A.sparsity_gaussian(lambda x: max(x, 0.0), beta, gamma, kinks=[0.0])
    assert A.sparsity_relu_power(beta, gamma, 1) == pytest.approx(relu, rel=1e-9)
    ident = A.sparsity_gaussian(lambda x: x, beta, gamma, kinks=[0.0])
    assert A.sparsity_identity(beta, gamma) == pytest.approx(ident, rel=1e-10)


@FEW
@given(st.floats(-30, 30))
def test_relu_moments_match_the_phi_forms(t):
    Phi, phi = ndtr(t), math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
    forms = {
        1: t * Phi + phi,
        2: (t * t + 1) * Phi + t * phi,
        4: (t**4 + 6 * t * t + 3) * Phi + (t**3 + 5 * t) * phi,
    }
    # the Phi/phi forms cancel catastrophically for t << 0; compare where they are accurate
    for k, value in forms.items():
        if t > -2:
            assert A.relu_moment(t, k) == pytest.approx(value, rel=1e-12, abs=1e-300)
        assert A.relu_moment(t, k) >= 0


def test_relu_moment_vectorised_and_checked():
    t = np.array([-3.0, 0.0, 2.0])
    assert A.relu_moment(t, 2).shape == (3,)
    assert A.relu_moment(0.0, 0) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        A.relu_moment(0.0, -1)
    with pytest.raises(TypeError):
        A.relu_moment(0.0, 2.0)


@FEW
@given(st.floats(-20, 20), st.floats(0.05, 20), st.floats(0.01, 100))
def test_relu2_depends_on_t_only_and_is_a_sparsity(beta, gamma, c):
    assume(beta / gamma > -40)  # the documented range; below it S < 1e-170 underflows to 0
    s = A.sparsity_relu2(beta, gamma)
    assert 0 < s <= 1
    assert A.sparsity_relu2(c * beta, c * gamma) == pytest.approx(s, rel=1e-12)


def test_relu2_landmarks():
    assert A.sparsity_relu2(0.0, 3.7) == pytest.approx(1 / math.sqrt(6), rel=1e-14)
    t = np.linspace(-12, 12, 241)
    s = A.sparsity_relu2(t, 1.0)
    assert np.all(np.diff(s) > 0)
    assert s[0] < 1e-15 and s[-1] > 0.95
    assert A.sparsity_relu2(-60.0, 1.0) == 0.0  # below the documented range: underflow to 0


def test_relu2_printed_form_agrees_then_breaks():
    t = np.linspace(-3, 5, 33)
    np.testing.assert_allclose(A.sparsity_relu2_erf(t, 1.0), A.sparsity_relu2(t, 1.0), rtol=1e-10)
    assert not np.isfinite(A.sparsity_relu2_erf(-8.0, 1.0))


@FEW
@given(st.floats(-50, 50), st.floats(0.01, 50))
def test_identity_is_even_with_floor_sqrt_2_over_pi(beta, gamma):
    s = A.sparsity_identity(beta, gamma)
    assert s == pytest.approx(A.sparsity_identity(-beta, gamma), rel=1e-14)
    assert math.sqrt(2 / math.pi) * (1 - 1e-14) <= s <= 1 + 1e-14


def test_identity_and_exp_landmarks():
    assert A.sparsity_identity(0.0, 2.0) == pytest.approx(math.sqrt(2 / math.pi), rel=1e-15)
    assert A.sparsity_exp(5.0, 2.0) == pytest.approx(math.exp(-2.0), rel=1e-15)
    assert A.sparsity_exp([0.0, 1.0], 1.0).shape == (2,)
    with pytest.raises(ValueError):
        A.sparsity_exp([0.0, 1.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        A.sparsity_identity(1.0, -1.0)
    with pytest.raises(ValueError):
        A.sparsity_relu_power(1.0, 1.0, 0)


# --- non-negative linear attention ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_general_linear_formula_is_exact(seed):
    rng = np.random.default_rng(seed)
    n, d = 500, 6
    k_feat = A.elu_plus_one(rng.normal(size=(n, d)) + rng.normal(size=d))
    q_feat = A.elu_plus_one(rng.normal(size=(3, d)))
    rows = k_feat @ q_feat.T  # (n, 3): one attention row per query, before normalisation
    predicted = A.sparsity_general_linear(q_feat, k_feat.mean(0), np.cov(k_feat.T, bias=True))
    np.testing.assert_allclose(A.sparsity(rows, axis=0), predicted, rtol=1e-12)


@FEW
@given(nonneg_vectors, st.floats(0.0, 10.0), st.floats(0.01, 10.0))
def test_iid_formula_is_the_general_one_with_isotropic_moments(q, cv, mean):
    d = q.size
    general = A.sparsity_general_linear(q, np.full(d, mean), (cv * mean) ** 2 * np.eye(d))
    s = A.sparsity_iid_linear(q, cv)
    assert s == pytest.approx(general, rel=1e-10)
    # ratio in [1/sqrt(d), 1] => S between the one-hot and the all-equal query values
    assert 1 / math.sqrt(1 + cv * cv) * (1 - 1e-12) <= s <= 1 / math.sqrt(1 + cv * cv / d) * (1 + 1e-12)


def test_linear_formulas_reject_bad_input():
    with pytest.raises(ValueError):
        A.sparsity_general_linear([-1.0, 1.0], [1.0, 1.0], np.eye(2))
    with pytest.raises(ValueError):
        A.sparsity_general_linear([1.0, 1.0], [1.0, 1.0], np.eye(3))
    with pytest.raises(ValueError):
        A.sparsity_general_linear([1.0, 1.0], [1.0, 1.0], [[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError):
        A.sparsity_general_linear([1.0, 0.0], [0.0, 1.0], np.eye(2))
    with pytest.raises(ValueError):
        A.sparsity_iid_linear([0.0, 0.0], 1.0)
    with pytest.raises(ValueError):
        A.sparsity_iid_linear([1.0, 0.0], -1.0)


# --- linear decay -----------------------------------------------------------------------------


@FEW
@given(st.floats(0.01, 1.0), st.integers(1, 3000))
def test_linear_decay_formula_and_bound(lam, n):
    row = lam ** np.arange(n - 1, -1, -1, dtype=float)
    s = A.sparsity_linear_decay(lam, n)
    assert s == pytest.approx(A.sparsity(row), rel=1e-10)
    assert s <= A.linear_decay_bound(lam, n) * (1 + 1e-12)
    assert 1 / math.sqrt(n) * (1 - 1e-12) <= s <= 1 + 1e-12


def test_linear_decay_edges():
    assert A.sparsity_linear_decay(1.0, 50) == pytest.approx(1.0, rel=1e-15)
    assert A.linear_decay_bound(1.0, 50) == math.inf
    np.testing.assert_allclose(
        A.sparsity_linear_decay(0.9, np.array([10, 100])),
        [A.sparsity(0.9 ** np.arange(10.0)), A.sparsity(0.9 ** np.arange(100.0))],
        rtol=1e-12,
    )
    for lam, n, error in [(0.0, 5, ValueError), (1.5, 5, ValueError), (0.5, 0, ValueError),
                          (0.5, 5.0, TypeError)]:
        with pytest.raises(error):
            A.sparsity_linear_decay(lam, n)


def test_effective_tokens_checks_probabilities():
    assert A.effective_tokens(np.full(8, 1 / 8)) == pytest.approx(8.0)
    with pytest.raises(ValueError):
        A.effective_tokens([0.5, 0.6])
    with pytest.raises(ValueError):
        A.effective_tokens([1.5, -0.5])


# --- feature maps and attention matrices ------------------------------------------------------


@pytest.mark.parametrize("d, order", [(1, 0), (2, 3), (3, 4), (4, 2)])
def test_taylor_features_reproduce_the_taylor_kernel(d, order):
    rng = np.random.default_rng(d + 10 * order)
    x, y = rng.normal(size=(2, 5, d))
    fx, fy = A.taylor_features(x, order), A.taylor_features(y, order)
    assert fx.shape == (5, math.comb(d + order, order))
    np.testing.assert_allclose((fx * fy).sum(-1), A.taylor_exp((x * y).sum(-1), order), rtol=1e-12)


def test_taylor_exp_converges_to_exp_and_is_positive_for_even_order():
    s = np.linspace(-6, 6, 25)
    np.testing.assert_allclose(A.taylor_exp(s, 40), np.exp(s), rtol=1e-12)
    assert np.all(A.taylor_exp(np.linspace(-30, 30, 601), 6) > 0)
    with pytest.raises(ValueError):
        A.taylor_exp(1.0, -2)


def test_positive_random_features_are_positive_and_unbiased():
    rng = np.random.default_rng(3)
    x, y = 0.3 * rng.normal(size=(2, 4))
    w = rng.normal(size=(200_000, 4))
    fx, fy = A.positive_random_features(x, w), A.positive_random_features(y, w)
    assert np.all(fx > 0)
    assert fx @ fy == pytest.approx(math.exp(x @ y), rel=0.01)
    with pytest.raises(ValueError):
        A.positive_random_features(x, w[:, :3])


def test_elu_plus_one():
    np.testing.assert_allclose(A.elu_plus_one([-1000.0, -1.0, 0.0, 2.0]), [0.0, math.exp(-1), 1.0, 3.0])


def test_causal_attention_matrices():
    rng = np.random.default_rng(4)
    q, k = rng.normal(size=(2, 6, 3))
    soft = A.causal_softmax_attention(q, k, scale=0.7)
    np.testing.assert_allclose(soft.sum(-1), 1.0, rtol=1e-14)
    assert np.all(np.triu(soft, 1) == 0) and np.all(np.diag(soft) > 0)
    logits = 0.7 * q[3] @ k[:4].T
    np.testing.assert_allclose(soft[3, :4], np.exp(logits) / np.exp(logits).sum(), rtol=1e-13)
    lin = A.linear_attention_weights(A.elu_plus_one(q), A.elu_plus_one(k))
    np.testing.assert_allclose(lin.sum(-1), 1.0, rtol=1e-14)
    assert np.all(np.triu(lin, 1) == 0)
    relu_q, relu_k = np.zeros((2, 3)), np.ones((2, 3))
    with pytest.raises(ValueError):
        A.linear_attention_weights(relu_q, relu_k)
    assert np.all(A.linear_attention_weights(relu_q, relu_k, eps=1e-6) == 0)
    with pytest.raises(ValueError):
        A.linear_attention_weights(-np.ones((2, 3)), relu_k)


# --- issue 15: the calls that hung, blew up memory or returned NaN, and the option checks ------


def test_huge_orders_fail_fast_with_a_clear_error():
    with pytest.raises(ValueError, match="k"):
        A.relu_moment(0.0, 10**9)  # used to hang in math.factorial
    with pytest.raises(ValueError, match="half_width"):
        A.gaussian_expectation(math.exp, 0, 1, half_width=1e6)  # used to run past 20 s
    with pytest.raises(ValueError, match="order"):
        A.taylor_features(np.ones((1, 1000)), 3)  # used to build 167 M tuples
    with pytest.raises(ValueError, match="power"):
        A.sparsity_relu_power(0.0, 1.0, 10**6)


def test_relu_moment_is_finite_for_large_t():
    assert A.relu_moment(5000.0, 2) == pytest.approx(25000001.0, rel=1e-15)  # used to be NaN
    assert A.relu_moment(60.0, 4) == pytest.approx(60.0**4 + 6 * 60.0**2 + 3, rel=1e-15)
    assert A.relu_moment(-45.0, 3) == 0.0  # underflow, documented
    with pytest.raises(ValueError, match="t"):
        A.relu_moment(1e300, 2)  # beyond the float range: an error, not inf


def test_closed_forms_stay_finite_at_extreme_t():
    s = A.sparsity_relu2(np.array([-1e300, -50.0, 1e5, 1e300]), 1.0)
    assert np.all(np.isfinite(s)) and s[0] == 0.0 and s[-1] == pytest.approx(1.0)
    assert A.sparsity_relu2(1e300, 1e-300) == pytest.approx(1.0)
    ident = A.sparsity_identity(np.array([-1e300, 0.0, 1e300]), 1e-300)
    np.testing.assert_allclose(ident, [1.0, math.sqrt(2 / math.pi), 1.0], rtol=1e-15)
    assert A.sparsity_exp(0.0, 1e300) == 0.0


def test_scalar_options_are_checked():
    q = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(ValueError, match="scale"):
        A.causal_softmax_attention(q, q, scale=math.nan)  # used to give all-NaN weights
    with pytest.raises(ValueError, match="eps"):
        A.linear_attention_weights(np.abs(q), np.abs(q), eps=-0.6)  # used to give weights of 1.92
    with pytest.raises(TypeError, match="causal"):
        A.linear_attention_weights(np.abs(q), np.abs(q), causal="yes")
    for bad in (math.nan, 0.0, -1.0):
        with pytest.raises(ValueError, match="epsrel"):
            A.gaussian_expectation(math.exp, 0.0, 1.0, epsrel=bad)
    with pytest.raises(ValueError, match="g"):
        A.gaussian_expectation(math.exp, 0.0, 1e300)  # overflow inside g: a clear error


@pytest.mark.parametrize("fn, args", [
    (A.sparsity, (np.array([1 + 1j, 2.0]),)),
    (A.elu_plus_one, (np.array([1j]),)),
    (A.causal_softmax_attention, (np.ones((2, 2)) + 0j, np.ones((2, 2)))),
    (A.sparsity_exp, (1j, 1.0)),
    (A.relu_moment, (np.array([1 + 1j]), 2)),
])
def test_complex_input_is_rejected_not_cut_to_its_real_part(fn, args):
    with pytest.raises(TypeError, match="complex"):
        fn(*args)


def test_overflow_safe_scaling():
    q = np.array([3e200, 4e200])
    assert A.sparsity_iid_linear(q, 2.0) == pytest.approx(A.sparsity_iid_linear([3.0, 4.0], 2.0), rel=1e-14)
    big = np.array([[1e300, 2e300], [3e300, 1e300]])
    np.testing.assert_allclose(A.linear_attention_weights(big, big),
                               A.linear_attention_weights(big / 1e300, big / 1e300), rtol=1e-14)
    assert A.sparsity(np.array([1e308, -1e308, 0.0])) == pytest.approx(2 / math.sqrt(6), rel=1e-14)


def test_torch_tensors_are_detached():
    import torch

    x = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    assert A.sparsity(x) == pytest.approx(A.sparsity(np.array([1.0, -2.0, 0.5])))
    assert isinstance(A.elu_plus_one(x), np.ndarray)


def test_public_functions_have_hints_docstrings_and_raises():
    import inspect

    for name in A.__all__:
        fn = getattr(A, name)
        sig = inspect.signature(fn)
        assert sig.return_annotation is not inspect.Signature.empty, name
        assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values()), name
        assert "Raises" in (fn.__doc__ or ""), name
        assert "section" in fn.__doc__.lower() or "eq." in fn.__doc__, name


# --- finite-n rows and the recall model (section 5.5, 5.6) --------------------------------------


def test_softmax_row_neff_matches_effective_tokens():
    rng = np.random.default_rng(7)
    neff = A.softmax_row_neff(np.array([0.0, 1.0, 3.0]), 500, 4, rng)
    eps = np.random.default_rng(7).standard_normal((4, 500))
    for i in range(4):
        for j, g in enumerate([0.0, 1.0, 3.0]):
            p = np.exp(g * eps[i] - (g * eps[i]).max())
            assert neff[j, i] == pytest.approx(A.effective_tokens(p / p.sum()), rel=1e-12)
    np.testing.assert_allclose(neff[0], 500.0, rtol=1e-13)
    assert np.all(np.diff(neff, axis=0) < 0)  # more peaked with gamma


def test_train_recall_is_deterministic_and_learns():
    run = A.train_recall("softmax", 16, 3, n_pairs=8, n_keys=16, steps=150, eval_batch=256)
    again = A.train_recall("softmax", 16, 3, n_pairs=8, n_keys=16, steps=150, eval_batch=256)
    assert run == again
    assert run["accuracy"] > 0.5 and run["mass"] > 0.3  # chance is 1/16 and 1/8
    with pytest.raises(ValueError, match="attention"):
        A.train_recall("relu", 16)
    with pytest.raises(ValueError, match="n_keys"):
        A.train_recall("linear", 16, n_pairs=8, n_keys=4)


# --- the cached sweeps of notebook 03 (data/03_*.py): a cheap slice of each is rerun ---------

import hashlib  # noqa: E402
import importlib.util  # noqa: E402
from pathlib import Path  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"
SHA256 = {
    "03_finite_n.npz": "be9a48a9c62dd29525b11160002bd06677f389d0949456d47bf52efb375d0418",
    "03_recall.npz": "a6a0f927f68a611e8a4f72fb198762fe8a47a1244c655a255347e2f9a992da6b",
}


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name.replace(".py", "").replace("03_", "data03_"),
                                                  DATA / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", sorted(SHA256))
def test_cached_files_are_the_recorded_ones(name):
    assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == SHA256[name]


def test_finite_n_cache_matches_a_rerun_of_one_length():
    mod = _script("03_finite_n.py")
    with np.load(mod.OUT) as f:
        cached = dict(f)
    fresh = mod.run((1000,), verbose=False)  # deterministic float64: exact to 1e-10
    assert mod.compare(cached, fresh, (1000,)) < 1e-10


def test_recall_cache_matches_a_rerun_of_one_entry():
    mod = _script("03_recall.py")
    with np.load(mod.OUT) as f:
        cached = dict(f)
    fresh = mod.run(dims=(8,), seeds=(0,), live=False, verbose=False)  # float32: 0.02 allowed
    assert mod.compare(cached, fresh) < mod.TOLERANCE
