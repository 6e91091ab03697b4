"""Unit tests for the helpers/attention_scale.py (the attention scale)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import integrate, optimize

from helpers import attention_scale as A

SETTINGS = settings(max_examples=40, deadline=None)
finite = st.floats(-6, 6, allow_nan=False, allow_infinity=False)
score_vectors = st.integers(1, 12).flatmap(lambda n: arrays(np.float64, (n,), elements=finite))
scales = st.floats(0.0, 8.0, allow_nan=False)


# --- softmax Jacobian and gradient size, eqs. (2)-(3) --------------------------------------------


@SETTINGS
@given(score_vectors, scales)
def test_half_l1_norm_of_jacobian_is_gradient_size(s, alpha):
    jac = A.softmax_jacobian(s, alpha)
    np.testing.assert_allclose(0.5 * np.abs(jac).sum(), A.gradient_size(s, alpha), rtol=1e-12, atol=1e-14)
    # diagonal and off-diagonal parts carry half each
    off = np.abs(jac).sum() - np.abs(np.diag(jac)).sum()
    np.testing.assert_allclose(off, np.abs(np.diag(jac)).sum(), rtol=1e-10, atol=1e-14)


@SETTINGS
@given(score_vectors, scales)
def test_collision_gini_entropy_identities(s, alpha):
    n = s.size
    c = A.collision_probability(s, alpha)
    g = A.gradient_size(s, alpha)
    h = A.softmax_entropy(s, alpha)
    p = A.scaled_softmax(s, alpha)
    np.testing.assert_allclose(c, (p * p).sum(), rtol=1e-12)
    np.testing.assert_allclose(g, alpha * (1 - (p * p).sum()), rtol=1e-9, atol=1e-13)
    assert 1 / n - 1e-12 <= c <= 1 + 1e-12
    # Shannon >= Renyi-2 = -log(collision), and both lie in [0, log n]
    assert -np.log(c) - 1e-9 <= h <= np.log(n) + 1e-9


def test_jacobian_matches_torch_autograd():
    rng = np.random.default_rng(1)
    for n, alpha in [(2, 0.3), (7, 1.0), (31, 2.5), (64, 5.0)]:
        s = torch.from_numpy(rng.standard_normal(n))
        auto = torch.func.jacrev(lambda x: torch.softmax(alpha * x, -1))(s).numpy()
        np.testing.assert_allclose(A.softmax_jacobian(s.numpy(), alpha), auto, atol=1e-15)


def test_torch_version_agrees_and_is_differentiable():
    rng = np.random.default_rng(2)
    s = rng.standard_normal((5, 40))
    alphas = np.array([0.0, 0.5, 1.0, 3.0, 10.0])
    t = torch.tensor(s, requires_grad=True)
    out = A.gradient_size_torch(t, torch.from_numpy(alphas))
    np.testing.assert_allclose(out.detach().numpy(), A.gradient_size(s, alphas), rtol=1e-12, atol=1e-15)
    out.sum().backward()
    assert t.grad is not None and torch.isfinite(t.grad).all()


def test_limits_small_and_large_alpha():
    s = np.array([0.3, -1.2, 2.0, 0.1])
    np.testing.assert_allclose(A.gradient_size(s, 1e-6), 1e-6 * (1 - 1 / 4), rtol=1e-5)
    assert A.gradient_size(s, 200.0) < 1e-100


def test_near_one_hot_is_accurate():
    # two keys: 1 - sum p^2 = 2 e^{-ag} / (1 + e^{-ag})^2 exactly, even when it is ~1e-200
    g = 0.7
    for alpha in (1.0, 50.0, 300.0, 600.0):
        exact = 2 * alpha * math.exp(-alpha * g) / (1 + math.exp(-alpha * g)) ** 2
        np.testing.assert_allclose(A.gradient_size(np.array([0.0, -g]), alpha), exact, rtol=1e-13)


def test_alpha_broadcasts_over_leading_axes():
    s = np.random.default_rng(3).standard_normal((4, 9))
    alphas = np.array([[0.5], [1.0], [2.0]])
    out = A.gradient_size(s, alphas)
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out[2], A.gradient_size(s, 2.0))
    assert A.softmax_jacobian(s, 1.5).shape == (4, 9, 9)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: A.gradient_size(np.ones(3), -1.0), ValueError, "alpha"),
        (lambda: A.gradient_size(np.array([1.0, np.nan]), 1.0), ValueError, "scores"),
        (lambda: A.gradient_size(3.0, 1.0), ValueError, "scores"),
        (lambda: A.gradient_size(np.ones((2, 3)), np.ones(5)), ValueError, "alpha"),
        (lambda: A.gradient_size(np.array([1 + 1j, 2.0]), 1.0), TypeError, "scores"),
        (lambda: A.gradient_size(np.ones(3), 1 + 2j), TypeError, "alpha"),
        (lambda: A.gradient_size(np.ones(3), np.nan), ValueError, "alpha"),
        (lambda: A.log_mgf_cosine(np.array([1 + 1j]), 8), TypeError, "alpha"),
        (lambda: A.alpha_star_cosine(100, 64, xatol=np.nan), ValueError, "xatol"),
        (lambda: A.alpha_star_cosine(100, 64, xatol=0.0), ValueError, "xatol"),
        (lambda: A.gradient_size_torch(torch.zeros(2, 0)), ValueError, "scores"),
        (lambda: A.gradient_size_torch(torch.ones(3), float("nan")), ValueError, "alpha"),
        (lambda: A.gradient_size_torch(torch.ones(3, dtype=torch.complex64)), TypeError, "scores"),
        (lambda: A.sample_scores(np.random.default_rng(0), 10**12), ValueError, "size"),
        (lambda: A.softmax_jacobian(np.ones((10**4, 10**3))), ValueError, "scores"),
        (lambda: A.monte_carlo([1.0], 10**6, 10**6, np.random.default_rng(0)), ValueError, "repeats"),
        (lambda: A.train_retrieval(1.0, 8, 0, lr=np.nan), ValueError, "lr"),
        (lambda: A.train_retrieval(1.0, 8, 0, steps=10, eval_every=20), ValueError, "eval_every"),
        (lambda: A.train_retrieval(1.0, 8, 0, optimizer="rmsprop"), ValueError, "optimizer"),
        (lambda: A.train_retrieval(1.0, 8.0, 0), TypeError, "n"),
        (lambda: A.gradient_size(["a", "b"], 1.0), TypeError, "scores"),
        (lambda: A.gradient_size_torch(np.ones(3), 1.0), TypeError, "scores"),
        (lambda: A.gradient_size_torch(torch.ones(3), -2.0), ValueError, "alpha"),
        (lambda: A.alpha_star_normal(1.0), ValueError, "n"),
        (lambda: A.log_mgf_cosine(1.0, 1), ValueError, "d"),
        (lambda: A.mean_limit_normal(2.5), TypeError, "n"),
        (lambda: A.mean_limit_normal(1), ValueError, "n"),
    ],
)
def test_bad_input_is_rejected(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_torch_tensors_are_detached_on_the_numpy_side():
    s = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    out = A.gradient_size(s, 2.0)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, A.gradient_size(s.detach().numpy(), 2.0))


def test_huge_alpha_gives_the_one_hot_limit_not_nan():
    s = [[1.0, 2.0, 3.0]]
    for f, want in ((A.softmax_entropy, 0.0), (A.gradient_size, 0.0), (A.collision_probability, 1.0)):
        np.testing.assert_array_equal(f(s, alpha=1e308), [want])
    np.testing.assert_allclose(A.scaled_softmax(s, 1e308), [[0.0, 0.0, 1.0]])
    # a tie at the top keeps half the mass on each, at any alpha
    np.testing.assert_allclose(A.scaled_softmax([2.0, 2.0, -1.0], 1e300), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(A.softmax_entropy([2.0, 2.0, -1.0], 1e300), math.log(2))
    # scores spanning more than the float range: the gap overflows to -inf, weight 0
    np.testing.assert_allclose(A.gradient_size([1e308, -1e308], 1.0), 0.0)
    np.testing.assert_allclose(A.gradient_size([1e308, -1e308], 0.0), 0.0)
    np.testing.assert_allclose(A.softmax_entropy([1e308, -1e308], 0.0), math.log(2))


# --- plug-in objective, Gaussian scores: eqs. (5)-(6) and the Lambert-W optimum -------------------


def test_gaussian_mgf_by_quadrature():
    for a in (0.5, 1.0, 2.0, 3.0):
        val, _ = integrate.quad(lambda s: math.exp(a * s - s * s / 2) / math.sqrt(2 * math.pi), -40, 40)
        np.testing.assert_allclose(val, math.exp(a * a / 2), rtol=1e-10)
        np.testing.assert_allclose(A.plugin_collision_normal(a, 10), math.exp(a * a) / 10)


@pytest.mark.parametrize("n", [2.5, 40, 512, 4096, 20000, 1e6])
def test_lambert_w_optimum_is_the_maximiser(n):
    a = A.alpha_star_normal(n)
    np.testing.assert_allclose((1 + 2 * a * a) * math.exp(a * a), n, rtol=1e-12)
    res = optimize.minimize_scalar(
        lambda x: -A.plugin_objective_normal(x, n), bounds=(0, math.sqrt(math.log(n))),
        method="bounded", options={"xatol": 1e-12},
    )
    np.testing.assert_allclose(res.x, a, atol=1e-7)


def test_post_numbers_gaussian():
    np.testing.assert_allclose(A.alpha_star_normal([40, 512, 20000]), [1.4342, 2.0084, 2.6782], atol=1e-4)
    ns = 40 * np.arange(1, 501)
    a = A.alpha_star_normal(ns)
    c = (a * np.sqrt(np.log(ns))).sum() / np.log(ns).sum()
    assert abs(c - 0.84) < 0.005


# --- cosine scores: MGF, sampler and optimum ------------------------------------------------------


def test_cosine_log_mgf_against_mpmath():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    for d in (2, 3, 8, 128, 768, 5000):
        for a in (1e-6, 0.3, 5.0, 30.0, 200.0, 2600.0, 1e4):
            ref = float(mpmath.log(mpmath.hyp0f1(mpmath.mpf(d) / 2, mpmath.mpf(a) ** 2 / 4, maxterms=10**6)))
            np.testing.assert_allclose(A.log_mgf_cosine(a, d), ref, rtol=1e-10, err_msg=f"d={d} a={a}")


def test_cosine_log_mgf_by_quadrature_and_limits():
    d = 128
    for a in (1.0, 10.0, 30.0):
        norm = integrate.quad(lambda s: (1 - s * s) ** ((d - 3) / 2), -1, 1, epsrel=1e-12)[0]
        val = integrate.quad(lambda s: math.exp(a * s) * (1 - s * s) ** ((d - 3) / 2), -1, 1, epsrel=1e-12)[0]
        np.testing.assert_allclose(A.log_mgf_cosine(a, d), math.log(val / norm), rtol=1e-9)
    # even in alpha, 0 at 0, variance 1/d at small alpha, vectorised over alpha and d
    np.testing.assert_allclose(A.log_mgf_cosine(-3.0, 64), A.log_mgf_cosine(3.0, 64))
    assert A.log_mgf_cosine(0.0, 64) == 0.0
    np.testing.assert_allclose(A.log_mgf_cosine(1e-4, 64), 1e-8 / (2 * 64), rtol=1e-6)
    assert A.log_mgf_cosine(np.ones((2, 3)), np.array([8, 64, 128])).shape == (2, 3)


@pytest.mark.parametrize("alpha, d", [(1e200, 64), (2.0**30, 2), (3e7, 2), (1e5, 8), (1e9, 1000),
                                      (5e5, 64), (3000.0, 1200), (700.0, 1100)])
def test_cosine_log_mgf_at_huge_alpha_against_mpmath(alpha, d):
    import mpmath as mp

    with mp.workdps(40):
        nu, a = mp.mpf(d) / 2 - 1, mp.mpf(alpha)
        want = float(mp.log(mp.gamma(mp.mpf(d) / 2)) + nu * mp.log(2 / a) + mp.log(mp.besseli(nu, a)))
    np.testing.assert_allclose(A.log_mgf_cosine(alpha, d), want, rtol=1e-13)


def test_cosine_optimum_far_out_matches_its_asymptote():
    # d = 2: K(2a) - 2K(a) -> log(pi a)/2, so the objective a (1 - sqrt(pi a)/n) peaks at 4n^2/(9 pi)
    n = 1e12
    np.testing.assert_allclose(A.alpha_star_cosine(n, 2), 4 * n**2 / (9 * math.pi), rtol=1e-6)
    np.testing.assert_allclose(A.alpha_star_cosine(100, 64, xatol=1e-10), 14.4726, rtol=1e-5)
    np.testing.assert_allclose(A.plugin_collision_cosine(1e15, 1e8, 2), math.sqrt(math.pi * 1e15) / 1e8,
                               rtol=1e-6)


def test_cosine_sampler_moments():
    rng = np.random.default_rng(4)
    s = A.sample_scores(rng, 200_000, "cosine", d=128)
    assert np.all(np.abs(s) <= 1)
    np.testing.assert_allclose(s.var(), 1 / 128, rtol=0.02)
    np.testing.assert_allclose(np.exp(10 * s).mean(), np.exp(A.log_mgf_cosine(10.0, 128)), rtol=0.01)


def test_post_numbers_cosine():
    a = A.alpha_star_cosine(np.array([40, 512, 4096]), 128)
    np.testing.assert_allclose(a, [16.81, 24.21, 29.70], atol=0.01)
    for n, x in zip([40, 512, 4096], a):
        f = A.plugin_objective_cosine(np.array([x - 1e-3, x, x + 1e-3]), n, 128)
        assert f[1] >= f[0] and f[1] >= f[2]
    assert np.ndim(A.alpha_star_cosine(512, 128)) == 0


# --- Monte Carlo of the exact objective -----------------------------------------------------------


def test_mean_limit_two_keys_is_inverse_sqrt_pi():
    np.testing.assert_allclose(A.mean_limit_normal(2), 1 / math.sqrt(math.pi), rtol=1e-10)
    assert A.mean_limit_normal(40) < A.mean_limit_normal(512) < math.sqrt(2 * math.log(512))


def test_exact_mean_two_keys_by_one_dimensional_integral():
    # n = 2: E[a h(a g)] with h(x) = 2e^-x/(1+e^-x)^2 and g = |s1 - s2| half-normal of variance 2
    def direct(a):
        f = lambda x: math.exp(-x * x / 4) / math.sqrt(math.pi) * 2 * a * math.exp(-a * x) / (1 + math.exp(-a * x)) ** 2
        return integrate.quad(f, 0, np.inf, epsabs=0, epsrel=1e-13, limit=200)[0]

    alphas = np.array([0.5, 1.0, 4.0, 30.0])
    np.testing.assert_allclose(A.mean_gradient_size_normal(alphas, 2), [direct(a) for a in alphas], rtol=1e-11)


def test_exact_mean_rises_to_its_limit_and_matches_monte_carlo():
    n = 64
    curve = A.mean_gradient_size_normal(np.geomspace(0.5, 1e4, 25), n)
    limit = A.mean_limit_normal(n)
    assert np.all(np.diff(curve) > 0) and np.all(curve < limit) and limit - curve[-1] < 1e-6
    alphas = np.array([1.0, 3.0, 8.0])
    mc = A.monte_carlo(alphas, n, 20_000, np.random.default_rng(7))
    z = (mc.mean(1) - A.mean_gradient_size_normal(alphas, n)) / (mc.std(1) / math.sqrt(mc.shape[1]))
    assert np.all(np.abs(z) < 4)
    # small alpha: the plug-in is exact to O(1/n^2)
    np.testing.assert_allclose(A.mean_gradient_size_normal(0.5, 4096), A.plugin_objective_normal(0.5, 4096), rtol=1e-6)
    with pytest.raises(ValueError, match="alpha"):
        A.mean_gradient_size_normal(0.1, 8)
    with pytest.raises(TypeError, match="n"):
        A.mean_gradient_size_normal(1.0, 8.0)


def test_monte_carlo_matches_direct_evaluation():
    alphas = np.array([0.5, 2.0, 7.0])
    out = A.monte_carlo(alphas, 16, 50, np.random.default_rng(5))
    s = A.sample_scores(np.random.default_rng(5), (50, 16))
    assert out.shape == (3, 50)
    for k, a in enumerate(alphas):
        np.testing.assert_allclose(out[k], A.gradient_size(s, a), rtol=1e-12)
    ent = A.monte_carlo(alphas, 16, 50, np.random.default_rng(5), statistic="entropy")
    np.testing.assert_allclose(ent[1], A.softmax_entropy(s, 2.0), rtol=1e-12)
    col = A.monte_carlo(alphas, 16, 50, np.random.default_rng(5), "cosine", d=64, statistic="collision")
    sc = A.sample_scores(np.random.default_rng(5), (50, 16), "cosine", d=64)
    np.testing.assert_allclose(col[0], A.collision_probability(sc, 0.5), rtol=1e-12)


def test_plug_in_is_right_at_small_alpha_and_wrong_past_the_threshold():
    n = 512
    mc = A.monte_carlo(np.array([1.0, 3.0]), n, 400, np.random.default_rng(6), statistic="collision").mean(1)
    np.testing.assert_allclose(mc[0], A.plugin_collision_normal(1.0, n), rtol=0.05)
    assert A.plugin_collision_normal(3.0, n) > 10 * mc[1]


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        (dict(alphas=[-1.0]), ValueError),
        (dict(n=1), ValueError),
        (dict(n=8.0), TypeError),
        (dict(repeats=0), ValueError),
        (dict(statistic="l2"), ValueError),
        (dict(law="laplace"), ValueError),
        (dict(law="cosine"), ValueError),
        (dict(d=16), ValueError),
        (dict(rng=np.random.RandomState(0)), TypeError),
    ],
)
def test_monte_carlo_rejects_bad_input(kwargs, exc):
    args = dict(alphas=[1.0], n=8, repeats=4, rng=np.random.default_rng(0)) | kwargs
    with pytest.raises(exc):
        A.monte_carlo(**args)


def test_plateau_on_a_known_curve():
    alphas = np.geomspace(0.5, 20, 200)
    y = 3 - (np.log(alphas) - np.log(4.0)) ** 2  # peak at 4; above 0.9*3 for |log(a/4)| < sqrt(0.3)
    lo, hi, centre = A.plateau(alphas, y, 0.9)
    np.testing.assert_allclose([lo, hi, centre], [4 * np.exp(-np.sqrt(0.3)), 4 * np.exp(np.sqrt(0.3)), 4], rtol=1e-3)
    with pytest.raises(ValueError, match="both sides"):
        A.plateau(alphas, alphas, 0.9)
    with pytest.raises(ValueError, match="level"):
        A.plateau(alphas, y, 1.5)
    with pytest.raises(ValueError, match="increasing"):
        A.plateau(alphas[::-1], y, 0.9)


# --- training on synthetic retrieval (section 7) --------------------------------------------------


def test_train_retrieval_is_reproducible_and_learns():
    kw = dict(steps=60, dim=8, value_dim=4, batch=16, eval_every=20, eval_contexts=2)
    a = A.train_retrieval(2.0, 8, 3, optimizer="adam", **kw)
    b = A.train_retrieval(2.0, 8, 3, optimizer="adam", **kw)
    np.testing.assert_array_equal(a.eval_loss, b.eval_loss)
    assert a.eval_steps.tolist() == [20, 40, 60] and a.final == a.eval_loss[-1]
    assert np.all(np.diff(a.eval_loss) < 0) and math.isclose(a.auc, a.eval_loss.mean())
    blind = A.train_retrieval(0.0, 8, 3, **kw)  # alpha = 0: uniform attention, nothing to learn
    np.testing.assert_allclose(blind.eval_loss, blind.eval_loss[0], rtol=1e-12)
    assert blind.grad_norm0 == 0.0 and 0.5 < blind.final < 1.5 and a.final < 0.75 * blind.final


def test_train_retrieval_reports_divergence_as_inf():
    run = A.train_retrieval(4.0, 8, 0, lr=1e300, steps=20, dim=4, value_dim=2, batch=4, eval_every=5,
                            eval_contexts=1)
    assert np.isinf(run.eval_loss[-1]) and not np.isnan(run.eval_loss).any()


def test_initial_gradient_matches_autograd_of_the_formula():
    # grad_norm0 is the gradient of loss (8) at initialisation: rebuild the first batch by hand
    n, dim, vd, batch, alpha = 6, 4, 3, 5, 1.7
    run = A.train_retrieval(alpha, n, 11, steps=1, dim=dim, value_dim=vd, batch=batch, eval_every=1,
                            eval_contexts=2)
    rng = np.random.default_rng(11)
    wq = torch.tensor(rng.standard_normal((dim, dim)) / math.sqrt(dim), requires_grad=True)
    wk = torch.tensor(rng.standard_normal((dim, dim)) / math.sqrt(dim), requires_grad=True)
    for _ in range(3):  # two held-out contexts, then the first training context
        k, v = rng.standard_normal((n, dim)), rng.standard_normal((n, vd))
        t = rng.integers(0, n, batch)
        q = k[t] + 0.5 * rng.standard_normal((batch, dim))
    q, k, v = (torch.from_numpy(x) for x in (q, k, v))
    s = alpha / math.sqrt(dim) * (q @ wq) @ (k @ wk).T
    out = torch.softmax(s, -1) @ v
    loss = ((out - v[torch.from_numpy(t)]) ** 2).sum(-1).mean() / vd
    loss.backward()
    want = math.sqrt(float((wq.grad**2).sum() + (wk.grad**2).sum()))
    assert math.isclose(run.grad_norm0, want, rel_tol=1e-12)


def test_cached_training_sweep_reruns():
    """A cheap slice of data/02_scale_training.py against its cache (float64, same code)."""
    import hashlib
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    path = root / "data" / "02_scale_training.npz"
    spec = importlib.util.spec_from_file_location("scale_training", root / "data" / "02_scale_training.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == mod.SHA256
    cache = np.load(path)
    ok = mod.check_slice(cache)
    assert ok, "the cheap slice no longer matches data/02_scale_training.npz"
