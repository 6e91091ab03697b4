"""Unit and property tests of helpers/hippo.py (notebook 08: HiPPO matrices)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.polynomial import legendre as npleg
from scipy.signal import cont2discrete

from helpers import hippo as H

FEW = settings(max_examples=25, deadline=None)
sizes = st.integers(1, 48)
thetas = st.floats(0.05, 20.0)
norms = st.sampled_from(H.NORMS)


# --- the matrices ------------------------------------------------------------------------------


@FEW
@given(N=sizes, theta=thetas)
def test_legt_matches_the_formula_entry_by_entry(N, theta):
    A, B = H.legt(N, theta)
    A0, B0 = H.legt_entrywise(N, theta)
    np.testing.assert_allclose(A, A0, rtol=1e-14, atol=0)
    np.testing.assert_allclose(B, B0, rtol=1e-14, atol=0)


@FEW
@given(N=sizes)
def test_legs_matches_the_formula_entry_by_entry(N):
    A, B = H.legs(N)
    A0, B0 = H.legs_entrywise(N)
    np.testing.assert_allclose(A, A0, rtol=1e-14, atol=0)
    np.testing.assert_allclose(B, B0, rtol=1e-14, atol=0)


@FEW
@given(N=sizes, theta=thetas, norm=norms)
def test_normalisations_are_diagonal_similarities(N, theta, norm):
    lam = H.norm_scale(N, norm)
    for (A, B), (Ap, Bp) in [(H.legt(N, theta, norm), H.legt(N, theta)),
                             (H.legs(N, norm), H.legs(N))]:
        np.testing.assert_allclose(A, np.diag(1 / lam) @ Ap @ np.diag(lam), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(B, Bp / lam, rtol=1e-14)


@FEW
@given(N=sizes)
def test_paper_and_rational_forms(N):
    n = np.arange(N)
    _, B = H.legs(N, "paper")
    np.testing.assert_allclose(B, np.sqrt(2 * n + 1), rtol=1e-14)
    A, B = H.legs(N, "rational")  # eq. leg-s-hippo-2: no square roots left
    expect = -np.tril(np.repeat((2 * n + 1.0)[:, None], N, 1), -1) - np.diag(n + 1.0)
    np.testing.assert_allclose(A, expect, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(B, 2 * n + 1, rtol=1e-13)
    A, B = H.legt(N, 1.0, "rational")  # eq. leg-t-hippo-2 (with B = 2n+1, see notebook)
    sign = np.where(n[None, :] < n[:, None], 1.0, (-1.0) ** (n[:, None] - n[None, :]))
    np.testing.assert_allclose(A, -(2 * n + 1.0)[:, None] * sign, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(B, 2 * n + 1, rtol=1e-13)


@FEW
@given(N=st.integers(1, 40), M=st.integers(1, 40))
def test_legs_is_nested(N, M):
    """LegS for N states is the leading block of LegS for more states: truncation is exact."""
    lo, hi = sorted((N, M))
    A, B = H.legs(hi)
    a, b = H.legs(lo)
    np.testing.assert_array_equal(A[:lo, :lo], a)
    np.testing.assert_array_equal(B[:lo], b)


@FEW
@given(N=sizes, norm=norms)
def test_constant_input_is_a_fixed_point_of_legs(N, norm):
    """-A^{-1} B is the projection of u = 1: sqrt(2) g_0 in the post's normalisation."""
    A, B = H.legs(N, norm)
    x = -np.linalg.solve(A, B)
    expect = np.zeros(N)
    expect[0] = math.sqrt(2)
    np.testing.assert_allclose(x, expect / H.norm_scale(N, norm), atol=1e-12)


@FEW
@given(N=sizes)
def test_low_rank_corrections(N):
    A, _ = H.legt(N)
    P = H.low_rank_correction("legt", N)
    S = A + P @ P.T
    np.testing.assert_allclose(S, -S.T, atol=1e-12)
    A, _ = H.legs(N)
    P = H.low_rank_correction("legs", N)
    S = A + P @ P.T + 0.5 * np.eye(N)
    np.testing.assert_allclose(S, -S.T, atol=1e-12)


@FEW
@given(N=sizes, theta=thetas)
def test_both_memories_are_dissipative(N, theta):
    """x^T A x <= 0 (LegT) and <= -|x|^2/2 (LegS): the symmetric parts are negative."""
    A, _ = H.legt(N, theta)
    assert np.linalg.eigvalsh(A + A.T).max() <= 1e-10 * N
    A, _ = H.legs(N)
    assert np.linalg.eigvalsh(A + A.T).max() <= -1 + 1e-10 * N


def test_fourier_matrices():
    A, B = H.fourier(2, theta=0.5, factor=1)
    assert A.shape == (5, 5) and B.shape == (5,)
    np.testing.assert_allclose(np.diag(A), (2j * np.pi * np.arange(-2, 3) - 1) / 0.5)
    np.testing.assert_allclose(A[0, 1], -2.0)
    A, B = H.fourier(3, factor=2)
    np.testing.assert_allclose(B, 2.0)
    np.testing.assert_allclose(A - np.diag(np.diag(A)), -2 * (1 - np.eye(7)))


# --- discretisation ----------------------------------------------------------------------------


@pytest.mark.parametrize("method,scipy_name", [("euler", "euler"), ("backward_euler", "backward_diff"),
                                               ("bilinear", "bilinear"), ("zoh", "zoh")])
def test_discretize_matches_scipy(method, scipy_name):
    A, B = H.legt(12, 0.7)
    Ad, Bd = H.discretize(A, B, 0.013, method)
    ref = cont2discrete((A, B[:, None], np.eye(12), np.zeros((12, 1))), 0.013, method=scipy_name)
    np.testing.assert_allclose(Ad, ref[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(Bd, ref[1][:, 0], rtol=1e-12, atol=1e-14)


def test_complex_systems_are_accepted_for_the_fourier_memory():
    A, B = H.fourier(3)
    Ad, Bd = H.discretize(A, B, 0.01, "zoh")
    assert np.iscomplexobj(Ad) and H.scan(Ad, Bd, np.ones(5), x0=np.zeros(7) + 0j).shape == (5, 7)


def test_zoh_with_a_singular_matrix():
    Ad, Bd = H.discretize(np.zeros((3, 3)), np.ones(3), 0.25, "zoh")
    np.testing.assert_allclose(Ad, np.eye(3))
    np.testing.assert_allclose(Bd, 0.25)


@FEW
@given(N=st.integers(1, 40), dt=st.floats(1e-3, 10.0))
def test_implicit_schemes_are_contractions(N, dt):
    A, B = H.legt(N)
    for method in ("backward_euler", "bilinear", "zoh"):
        Ad, _ = H.discretize(A, B, dt, method)
        assert np.linalg.norm(Ad, 2) <= 1 + 1e-9


def test_scan_equals_convolution_and_batches():
    rng = np.random.default_rng(1)
    A, B = H.legt(16)
    Ad, Bd = H.discretize(A, B, 1 / 64, "bilinear")
    u = rng.standard_normal((300, 3))
    X = H.scan(Ad, Bd, u)
    assert X.shape == (300, 3, 16)
    K = H.kernel(Ad, Bd, 300)
    for b in range(3):
        np.testing.assert_allclose(H.causal_conv(K, u[:, b]), X[:, b], atol=1e-13)
        np.testing.assert_allclose(H.scan(Ad, Bd, u[:, b]), X[:, b], atol=1e-15)
    x0 = rng.standard_normal(16)
    np.testing.assert_allclose(H.scan(Ad, Bd, np.zeros(5), x0=x0)[-1],
                               np.linalg.matrix_power(Ad, 5) @ x0, atol=1e-13)


@FEW
@given(L=st.integers(1, 70))
def test_kernel_doubling_equals_powers(L):
    A, B = H.legs(6)
    Ad, Bd = H.discretize(A, B, 0.1, "zoh")
    K = H.kernel(Ad, Bd, L)
    assert K.shape == (L, 6)
    np.testing.assert_allclose(K[-1], np.linalg.matrix_power(Ad, L - 1) @ Bd, atol=1e-13)


@FEW
@given(N=st.integers(1, 20), L=st.integers(1, 40), value=st.floats(-5, 5),
       method=st.sampled_from(("backward_euler", "bilinear", "zoh")))
def test_scan_legs_keeps_a_constant_exactly(N, L, value, method):
    """(Forward Euler keeps it too, but its first steps amplify round-off by |1 - h_k n| >> 1.)"""
    A, B = H.legs(N)
    X = H.scan_legs(A, B, np.full(L, value), method)
    expect = np.zeros((L, N))
    expect[:, 0] = math.sqrt(2) * value
    np.testing.assert_allclose(X, expect, atol=1e-12 * (1 + abs(value)))


@pytest.mark.parametrize("method,tol", [("euler", 5e-2), ("backward_euler", 5e-2),
                                        ("bilinear", 2e-3), ("zoh", 2e-4)])
def test_scan_legs_tracks_the_projection(method, tol):
    u = lambda t: np.sin(3 * t) + 0.5 * t  # noqa: E731
    L, T, N = 400, 2.0, 8
    eps = T / L
    A, B = H.legs(N)
    X = H.scan_legs(A, B, u((np.arange(L) + 0.5) * eps), method)
    assert np.linalg.norm(X[-1] - H.project(u, T, N, "legs")) < tol


# --- projection and reconstruction -------------------------------------------------------------


@FEW
@given(N=st.integers(1, 24), data=st.data(), measure=st.sampled_from(H.MEASURES), norm=norms)
def test_polynomials_below_degree_N_are_reconstructed_exactly(N, data, measure, norm):
    coef = np.array(data.draw(st.lists(st.floats(-3, 3), min_size=1, max_size=N)))
    u = lambda t: npleg.legval(t / 2 - 1, coef)  # noqa: E731  (a polynomial on [0, 4])
    T = 4.0
    c = H.project(u, T, N, measure, theta=1.5, norm=norm)
    t = np.linspace(T - 1.5 if measure == "legt" else 0.0, T, 50)
    np.testing.assert_allclose(H.reconstruct(c, t, T, measure, theta=1.5, norm=norm), u(t),
                               atol=1e-10 * (1 + np.abs(coef).sum()))


@FEW
@given(N=st.integers(1, 16), data=st.data())
def test_legt_is_exact_for_polynomials_below_degree_N(N, data):
    """The only approximation of LegT is the estimate of u(T - theta); it is exact when the
    window holds a polynomial of degree < N."""
    coef = np.array(data.draw(st.lists(st.floats(-2, 2), min_size=1, max_size=N)))
    poly = np.polynomial.Polynomial(coef)
    T, theta = 2.5, 1.3
    A, B = H.legt(N, theta)
    s, w = npleg.leggauss(60)
    dc = (w * poly.deriv()(H.window_map(s, T, "legt", theta))) @ H.legendre_basis(N, s)
    c = H.project(poly, T, N, "legt", theta)
    # round-off of the quadrature (~1e-14 |u|) is amplified by the entries of A (~(2N+1)/theta)
    # summed over N columns
    scale = (1 + np.abs(poly(H.window_map(s, T, "legt", theta))).max()) * (2 * N + 1) ** 2 / theta
    np.testing.assert_allclose(A @ c + B * poly(T), dc, atol=1e-13 * scale)


def test_reconstruct_batched_states():
    c = np.arange(12.0).reshape(3, 4)
    t = np.linspace(0, 2, 7)
    R = H.reconstruct(c, t, 2.0, "legs")
    assert R.shape == (3, 7)
    np.testing.assert_allclose(R[1], H.reconstruct(c[1], t, 2.0, "legs"))
    np.testing.assert_allclose(R[2], H.legendre_basis(4, t - 1) @ c[2])


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("call,exc,words", [
    (lambda: H.legt(0), ValueError, "N: expected an integer >= 1"),
    (lambda: H.legs(-3), ValueError, "N: expected an integer >= 1"),
    (lambda: H.legs(2.0), TypeError, "N: expected an integer"),
    (lambda: H.legt(True), TypeError, "N: expected an integer"),
    (lambda: H.legt(10**5), ValueError, "N: this call would need"),  # 9+ GiB: refused before allocating
    (lambda: H.legt_entrywise(10**4), ValueError, "N: expected an integer <= 2048"),
    (lambda: H.legt(4, theta=0), ValueError, "theta: expected values > 0"),
    (lambda: H.legt(4, theta=-1.0), ValueError, "theta: expected values > 0"),
    (lambda: H.legt(4, theta=float("nan")), ValueError, "theta: expected a number, got nan"),
    (lambda: H.legt(4, theta=1 + 0j), TypeError, "theta: expected a real number"),
    (lambda: H.legt(4, norm="lmu"), ValueError, "norm: expected one of"),
    (lambda: H.discretize(*H.legt(4), 0.0, "zoh"), ValueError, "dt: expected values > 0"),
    (lambda: H.discretize(*H.legt(4), -1e-3), ValueError, "dt: expected values > 0"),
    (lambda: H.discretize(*H.legt(4), 0.1, "rk4"), ValueError, "method: expected one of"),
    (lambda: H.discretize(np.ones((2, 3)), np.ones(2), 0.1), ValueError, "A: expected a non-empty square"),
    (lambda: H.discretize(np.eye(3), np.ones(2), 0.1), ValueError, "B: expected shape"),
    (lambda: H.discretize(np.eye(2), np.ones(2), 1.0, "backward_euler"), ValueError, "dt: I - 1 dt A is singular"),
    (lambda: H.discretize(np.eye(2), np.ones(2), 2.0, "bilinear"), ValueError, "dt: I - 0.5 dt A is singular"),
    (lambda: H.discretize(np.eye(2) * 1e10, np.ones(2), 1e300, "euler"), ValueError, "dt: the result overflowed"),
    (lambda: H.discretize(np.eye(2) * np.nan, np.ones(2), 0.1), ValueError, "A: expected numbers, found NaN"),
    (lambda: H.scan(np.eye(2), np.ones(2), np.ones((2, 2, 2))), ValueError, "u: expected 1 or 2 dimension"),
    (lambda: H.scan(np.eye(2), np.ones(2), [1.0, np.nan]), ValueError, "u: expected numbers, found NaN"),
    (lambda: H.scan(np.eye(2), np.ones(2), [1.0, 2j]), TypeError, "u: expected real numbers"),
    (lambda: H.scan(np.eye(2), np.ones(2), np.ones(3), x0=np.ones(3)), ValueError, "x0: expected shape"),
    (lambda: H.scan(np.eye(4), np.ones(4), np.ones(3), x0=[np.nan] * 4), ValueError, "x0: expected numbers, found NaN"),
    (lambda: H.scan_legs(*H.legs(3), np.ones(4), "trapezoid"), ValueError, "method: expected one of"),
    (lambda: H.scan_legs(*H.legs(3), np.ones(4), "zoh", "halfstep"), ValueError, "stepping: expected one of"),
    (lambda: H.scan_legs(np.zeros((3, 3)), np.ones(3), np.ones(4)), ValueError, "A: expected an invertible"),
    (lambda: H.kernel(*H.discretize(*H.legt(4), 0.1), 10**9), ValueError, "L: this call would need"),
    (lambda: H.kernel(np.eye(2), np.ones(2), 0), ValueError, "L: expected an integer >= 1"),
    (lambda: H.causal_conv(np.ones((3, 2)), np.ones(4)), ValueError, "K: expected shape"),
    (lambda: H.fourier(-1), ValueError, "K: expected an integer >= 0"),
    (lambda: H.fourier(2, factor=3), ValueError, "factor: expected an integer <= 2"),
    (lambda: H.project(np.sin, 1.0, 4, "legx"), ValueError, "measure: expected one of"),
    (lambda: H.project([1.0], 1.0, 4), TypeError, "u: expected a callable"),
    (lambda: H.project(np.sin, 1.0, 4, nodes=0), ValueError, "nodes: expected an integer >= 1"),
    (lambda: H.project(lambda t: t * np.nan, 1.0, 4), ValueError, "u: expected numbers, found NaN"),
    (lambda: H.project(lambda t: t[:3], 1.0, 4), ValueError, "u: expected values of shape"),
    (lambda: H.reconstruct(np.ones(3), [0.5], 2.0, "legt", theta=1.0), ValueError, "t: expected times inside the window"),
    (lambda: H.reconstruct(np.ones(3), None, 3.0), TypeError, "t: expected real numbers"),
    (lambda: H.reconstruct(np.ones(3), [np.nan], 3.0), ValueError, "t: expected numbers, found NaN"),
    (lambda: H.reconstruct([1.0, 1j], [2.5], 3.0), TypeError, "c: expected real numbers"),
    (lambda: H.legendre_basis(3, [2.0]), ValueError, "s: expected values <="),
    (lambda: H.legendre_basis(3, None), TypeError, "s: expected real numbers"),
    (lambda: H.legendre_basis(3, [0.5 + 1j]), TypeError, "s: expected real numbers"),
])
def test_bad_input_is_refused_with_a_clear_message(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


def test_legendre_basis_keeps_the_shape_of_s():
    assert hippo_shape(0.3) == (5,)
    assert hippo_shape(np.zeros((2, 3))) == (2, 3, 5)
    np.testing.assert_allclose(H.legendre_basis(5, 1.0), np.sqrt((2 * np.arange(5) + 1) / 2))


def hippo_shape(s):
    return H.legendre_basis(5, s).shape


# --- the cached runs of notebook 08 (data/08_*.npz): the cheap slice of each script reruns ---------

def _data_script(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name.replace("08_", "data08_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_legt_spectrum_cache_matches_its_script():
    mod = _data_script("08_legt_spectrum")
    cached = np.load(mod.OUT)
    assert tuple(cached["sizes"]) == mod.SIZES
    np.testing.assert_allclose(mod.exact_spectrum(16), cached["N16"], rtol=1e-14)
    for N in (4, 8):  # where numpy is still accurate, it agrees with the exact roots
        got = np.sort_complex(np.linalg.eigvals(H.legt(N)[0]))
        np.testing.assert_allclose(got, np.sort_complex(cached[f"N{N}"]), rtol=1e-10)


def test_legs_stepping_cache_matches_its_script():
    mod = _data_script("08_legs_stepping")
    cached = np.load(mod.OUT)
    for s in H.STEPPINGS:
        for L in mod.SLICE["L"]:
            i = list(cached["L"]).index(L)
            np.testing.assert_allclose(mod.errors(L, "bilinear", s), cached[f"bilinear_{s}"][i], rtol=1e-9)


def test_time_invariant_legs_has_the_warped_legendre_kernel():
    from scipy import linalg

    A, B = H.legs(8)
    for r in (0.0, 0.3, 2.0, 5.0):
        K = 2 * math.exp(-r) * H.legendre_basis(8, 2 * math.exp(-r) - 1)
        np.testing.assert_allclose(linalg.expm(r * A) @ B, K, atol=1e-12 * np.abs(B).max())


def test_unit_stepping_is_first_order_and_log_stepping_second():
    u = lambda t: np.sin(3 * t) + 0.5 * t  # noqa: E731
    A, B = H.legs(8)
    c = H.project(u, 2.0, 8, "legs")
    err = {(s, L): np.linalg.norm(H.scan_legs(A, B, u((np.arange(L) + 0.5) * 2.0 / L), "bilinear", s)[-1] - c)
           for s in H.STEPPINGS for L in (200, 800)}
    assert 3 < err["unit", 200] / err["unit", 800] < 5.5  # x4 in L: first order
    assert 8 < err["log", 200] / err["log", 800] < 20  # second order (pre-asymptotic at L = 200: about x11)
