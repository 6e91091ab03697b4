"""Attention numerics shared by notebooks 02 (the scale from gradient maximisation) and 03 (can
attention focus?)."""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------------------------------------
# Notebook 02: the attention scale (softmax gradient size, plug-in objective, Monte Carlo)
# ---------------------------------------------------------------------------------------------

# This section serves notebook 02; equation numbers refer to it (and to the post, kexue.fm 9812).
# p = softmax(alpha * s) over the last axis, s = scores of one query against n keys.

from typing import Literal

from scipy import integrate as _spi
from scipy import optimize as _spo
from scipy import special as _sps

_ScoreLaw = Literal["normal", "cosine"]
_Statistic = Literal["gradient_size", "collision", "entropy"]


def _scale_real(x, name: str) -> np.ndarray:
    if hasattr(x, "detach"):
        raise TypeError(f"{name}: expected a numpy array or a number, got a torch tensor")
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected real numbers, got {type(x).__name__}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite values")
    return arr


def _scale_scores(scores) -> np.ndarray:
    s = _scale_real(scores, "scores")
    if s.ndim == 0 or s.shape[-1] < 1:
        raise ValueError(f"scores: expected an array of shape (..., n) with n >= 1, got {s.shape}")
    return s


def _scale_alpha(alpha, lead: tuple[int, ...]) -> np.ndarray:
    a = _scale_real(alpha, "alpha")
    if np.any(a < 0):
        raise ValueError("alpha: expected a scale >= 0")
    try:
        np.broadcast_shapes(a.shape, lead)
    except ValueError:
        raise ValueError(
            f"alpha: shape {a.shape} does not broadcast against the scores' leading shape {lead}"
        ) from None
    return a


def _scale_count(n, name: str = "n", low: float = 2) -> np.ndarray:
    arr = _scale_real(n, name)
    if np.any(arr < low):
        raise ValueError(f"{name}: expected values >= {low:g}")
    return arr


def _scale_shifted(scores, alpha) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated alpha, x = alpha*s - max(alpha*s) and the index of the max (last axis)."""
    s = _scale_scores(scores)
    a = _scale_alpha(alpha, s.shape[:-1])
    x = a[..., None] * s
    top = np.argmax(x, axis=-1)[..., None]
    return a, x - np.take_along_axis(x, top, axis=-1), top


def _scale_parts(x: np.ndarray, top: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For x <= 0 with x[top] = 0: e = e^x with the top entry zeroed, T = sum e, Q = sum e^2.

    With the top entry (e^0 = 1) held out, 1 - sum p^2 = (2T + T^2 - Q)/(1 + T)^2 has no
    cancellation, so the gradient size stays accurate when p is nearly one-hot (large alpha).
    """
    e = np.exp(x)
    np.put_along_axis(e, top, 0.0, axis=-1)
    return e, e.sum(-1), np.einsum("...i,...i->...", e, e)


def _scale_statistic(kind: str, a, x, top) -> np.ndarray:
    e, t, q = _scale_parts(x, top)
    if kind == "gradient_size":
        return a * (2.0 * t + t * t - q) / (1.0 + t) ** 2
    if kind == "collision":
        return (1.0 + q) / (1.0 + t) ** 2
    return np.log1p(t) - np.einsum("...i,...i->...", e, x) / (1.0 + t)  # Shannon entropy


def scaled_softmax(scores, alpha=1.0) -> np.ndarray:
    """p = softmax(alpha * s) over the last axis (max-subtracted, so any alpha >= 0 is safe)."""
    s = _scale_scores(scores)
    a = _scale_alpha(alpha, s.shape[:-1])
    return _sps.softmax(a[..., None] * s, axis=-1)


def softmax_jacobian(scores, alpha=1.0) -> np.ndarray:
    """dp_i/ds_j = alpha (p_i delta_ij - p_i p_j), eq. (2); shape (..., n, n)."""
    s = _scale_scores(scores)
    a = _scale_alpha(alpha, s.shape[:-1])
    p = _sps.softmax(a[..., None] * s, axis=-1)
    a = a[..., None, None]
    return a * (p[..., :, None] * np.eye(p.shape[-1]) - p[..., :, None] * p[..., None, :])


def collision_probability(scores, alpha=1.0) -> np.ndarray:
    """sum_i p_i^2 = exp(-H_2(p)), the quantity the post approximates in eq. (4)."""
    return _scale_statistic("collision", *_scale_shifted(scores, alpha))


def gradient_size(scores, alpha=1.0) -> np.ndarray:
    """(1/2) sum_ij |dp_i/ds_j| = alpha (1 - sum_i p_i^2), eq. (3); one value per score vector.

    ``alpha`` (>= 0) broadcasts against ``scores.shape[:-1]``.
    """
    return _scale_statistic("gradient_size", *_scale_shifted(scores, alpha))


def softmax_entropy(scores, alpha=1.0) -> np.ndarray:
    """Shannon entropy -sum p_i log p_i of softmax(alpha * s), in nats."""
    return _scale_statistic("entropy", *_scale_shifted(scores, alpha))


def gradient_size_torch(scores, alpha=1.0):
    """Torch version of ``gradient_size`` (differentiable, any device): alpha (1 - |p|^2)."""
    import torch

    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"scores: expected a torch.Tensor, got {type(scores).__name__}")
    if scores.ndim == 0 or not scores.is_floating_point():
        raise ValueError("scores: expected a floating tensor of shape (..., n)")
    alpha = torch.as_tensor(alpha, dtype=scores.dtype, device=scores.device)
    if torch.any(alpha < 0):
        raise ValueError("alpha: expected a scale >= 0")
    p = torch.softmax(alpha[..., None] * scores, dim=-1)
    return alpha * (1.0 - (p * p).sum(-1))


# --- the post's plug-in objective: sum p^2 ~ E[e^{2 a s}] / (n E[e^{a s}]^2), eq. (4) ---------


def plugin_collision_normal(alpha, n) -> np.ndarray:
    """Plug-in (4) with s ~ N(0, 1): E[e^{2 alpha s}] / (n E[e^{alpha s}]^2) = e^{alpha^2} / n."""
    a = _scale_real(alpha, "alpha")
    with np.errstate(over="ignore"):
        return np.exp(a * a) / _scale_count(n)


def plugin_objective_normal(alpha, n) -> np.ndarray:
    """alpha (1 - e^{alpha^2} / n), eq. (6): eq. (3) after the plug-in (4) with s ~ N(0, 1)."""
    a = _scale_real(alpha, "alpha")
    with np.errstate(over="ignore"):  # -inf beyond alpha ~ 26 is the right limit
        return a * (1.0 - np.exp(a * a) / _scale_count(n))


def alpha_star_normal(n) -> np.ndarray:
    """Maximiser of eq. (6): the root of (1 + 2a^2) e^{a^2} = n, i.e. a = sqrt(W(sqrt(e) n / 2) - 1/2)."""
    w = _sps.lambertw(np.sqrt(np.e) * _scale_count(n) / 2.0).real
    return np.sqrt(w - 0.5)


def _scale_log_iv_debye(nu: np.ndarray, x: np.ndarray) -> np.ndarray:
    """log I_nu(x) by the uniform (Debye) expansion, DLMF 10.41.3, terms to u_4 (for nu >= 500)."""
    z = x / nu
    s = np.sqrt(1.0 + z * z)
    t = 1.0 / s
    u1 = t * (3 - 5 * t**2) / 24
    u2 = t**2 * (81 - 462 * t**2 + 385 * t**4) / 1152
    u3 = t**3 * (30375 - 369603 * t**2 + 765765 * t**4 - 425425 * t**6) / 414720
    u4 = t**4 * (4465125 - 94121676 * t**2 + 349922430 * t**4 - 446185740 * t**6
                 + 185910725 * t**8) / 39813120
    series = 1 + u1 / nu + u2 / nu**2 + u3 / nu**3 + u4 / nu**4
    eta = s + np.log(z / (1.0 + s))
    return nu * eta - 0.5 * np.log(2 * np.pi * nu * s) + np.log(series)


def log_mgf_cosine(alpha, d) -> np.ndarray:
    """log E[e^{alpha s}] for s the cosine of two uniform directions in R^d (density eq. (7)).

    E[e^{alpha s}] = 0F1(; d/2; alpha^2/4) = Gamma(d/2) (2/alpha)^nu I_nu(alpha), nu = d/2 - 1.
    Evaluated by its power series while alpha^2 <= 2d, with hyp0f1 up to alpha = nu, with the
    scaled Bessel function ive above, and with the Debye expansion of I_nu where those would
    under- or overflow (nu >= 500).
    """
    a, d = np.broadcast_arrays(np.abs(_scale_real(alpha, "alpha")), _scale_count(d, "d", low=2))
    nu = d / 2.0 - 1.0
    out = np.full(a.shape, np.nan)
    series = a * a <= 2.0 * d  # 0F1 - 1 = sum_k z^k / ((d/2)_k k!), z = a^2/4: terms <= 1/k!
    z, b = a[series] ** 2 / 4.0, d[series] / 2.0
    term, total = np.ones(z.shape), np.zeros(z.shape)
    for k in range(1, 32):
        term = term * z / (k * (b + k - 1.0))
        total += term
    out[series] = np.log1p(total)
    mid = ~series & (a < nu)
    with np.errstate(over="ignore"):
        out[mid] = np.log(_sps.hyp0f1(d[mid] / 2.0, a[mid] ** 2 / 4.0))
    bessel = ~series & ~mid & (nu < 500)
    aa, nn = a[bessel], nu[bessel]
    out[bessel] = _sps.gammaln(nn + 1) + nn * np.log(2.0 / aa) + np.log(_sps.ive(nn, aa)) + aa
    debye = ~np.isfinite(out)
    aa, nn = a[debye], nu[debye]
    out[debye] = _sps.gammaln(nn + 1) + nn * np.log(2.0 / aa) + _scale_log_iv_debye(nn, aa)
    return out if out.ndim else out[()]


def plugin_collision_cosine(alpha, n, d) -> np.ndarray:
    """Plug-in (4) for cosine scores: E[e^{2 alpha s}] / (n E[e^{alpha s}]^2)."""
    a = _scale_real(alpha, "alpha")
    return np.exp(log_mgf_cosine(2.0 * a, d) - 2.0 * log_mgf_cosine(a, d)) / _scale_count(n)


def plugin_objective_cosine(alpha, n, d) -> np.ndarray:
    """alpha (1 - E[e^{2 alpha s}] / (n E[e^{alpha s}]^2)) for cosine scores in R^d."""
    a = _scale_real(alpha, "alpha")
    return a * (1.0 - plugin_collision_cosine(a, n, d))


def alpha_star_cosine(n, d, xatol: float = 1e-10) -> np.ndarray:
    """Maximiser of ``plugin_objective_cosine`` for each n (and d), by bounded 1-D search.

    The log-ratio K(2a) - 2K(a) (K = log-MGF) increases in a, so the objective is positive
    exactly on (0, a0) with K(2 a0) - 2K(a0) = log n; the search runs over that bracket.
    """
    n_arr, d_arr = np.broadcast_arrays(_scale_count(n), _scale_count(d, "d", low=2))
    out = np.empty(n_arr.shape)
    for idx in np.ndindex(n_arr.shape):
        nn, dd = n_arr[idx], d_arr[idx]

        def excess(a):
            return log_mgf_cosine(2 * a, dd) - 2 * log_mgf_cosine(a, dd) - np.log(nn)

        hi = 1.0
        while excess(hi) < 0:
            hi *= 2.0
            if hi > 1e15:
                raise ValueError(f"n: no bracket found for n={nn:g}, d={dd:g}")
        a0 = _spo.brentq(excess, 0.0, hi, xtol=1e-12, rtol=1e-14)
        res = _spo.minimize_scalar(
            lambda a: -plugin_objective_cosine(a, nn, dd), bounds=(0.0, a0),
            method="bounded", options={"xatol": xatol * max(1.0, a0)},
        )
        out[idx] = res.x
    return out if out.ndim else out[()]


def mean_limit_normal(n: int) -> float:
    """lim_{alpha->inf} E[alpha (1 - sum p^2)] for n i.i.d. N(0,1) scores.

    Equals the density at 0 of the gap between the two largest scores,
    n(n-1) int phi(x)^2 Phi(x)^(n-2) dx (a near-tie of the top two keeps the gradient alive).
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"n: expected an int, got {type(n).__name__}")
    if n < 2:
        raise ValueError(f"n: expected an integer >= 2, got {n}")

    def integrand(x):
        return np.exp(-x * x + (n - 2) * _sps.log_ndtr(x)) / (2 * np.pi)

    val, _ = _spi.quad(integrand, -12.0, 12.0, epsabs=0.0, epsrel=1e-11, limit=200)
    return n * (n - 1) * val


def mean_gradient_size_normal(alpha, n: int) -> np.ndarray:
    """Exact E[alpha (1 - sum p^2)] over n i.i.d. N(0,1) scores (no plug-in), by 2-D quadrature.

    1 - sum p^2 = sum_{i != j} p_i p_j; with 1/Z^2 = int_0^inf t e^{-tZ} dt, t = e^{-alpha u}:
    E = n(n-1) int B(u)^2 M(u)^(n-2) du, where B(u) = int phi(u + w/alpha) e^{w - e^w} dw and
    M(u) = Phi(u) + (1/alpha) int phi(u + w/alpha) (e^{-e^w} - [w < 0]) dw. Accurate to ~1e-12
    for alpha >= 0.5 (Gauss-Legendre in w, trapezoid in u); alpha -> inf gives mean_limit_normal.
    """
    a = _scale_real(alpha, "alpha")
    if np.any(a < 0.5):
        raise ValueError("alpha: expected scales >= 0.5 (below, use the plug-in: it is exact there)")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"n: expected an int, got {type(n).__name__}")
    if n < 2:
        raise ValueError(f"n: expected an integer >= 2, got {n}")
    x, wx = np.polynomial.legendre.leggauss(64)
    panels = ((-45.0, -12.0), (-12.0, 0.0), (0.0, 4.0))  # split at the jump of [w < 0]
    w = np.concatenate([(hi - lo) / 2 * x + (hi + lo) / 2 for lo, hi in panels])
    ww = np.concatenate([wx * (hi - lo) / 2 for lo, hi in panels])
    g1 = ww * np.exp(w - np.exp(w))
    g0 = ww * (np.exp(-np.exp(w)) - (w < 0))
    out = np.empty(a.shape)
    for idx in np.ndindex(a.shape):
        ai = a[idx]
        u = np.arange(-10.0 - 4.0 / ai, 10.0 + 45.0 / ai, 0.04)  # integrand smooth on scale 1
        phi = np.exp(-0.5 * (u[:, None] + w[None, :] / ai) ** 2) / np.sqrt(2 * np.pi)
        b = phi @ g1
        m = _sps.ndtr(u) + (phi @ g0) / ai
        out[idx] = n * (n - 1) * np.sum(b * b * m ** (n - 2)) * 0.04
    return out if out.ndim else out[()]


# --- Monte Carlo of the true objective ------------------------------------------------------


def sample_scores(rng: np.random.Generator, size, law: _ScoreLaw = "normal", d=None) -> np.ndarray:
    """i.i.d. scores: N(0, 1), or the cosine of two uniform directions in R^d, s = 2 B - 1 with
    B ~ Beta((d-1)/2, (d-1)/2) (exact; density eq. (7))."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    if law == "normal":
        if d is not None:
            raise ValueError("d: only used with law='cosine'")
        return rng.standard_normal(size)
    if law == "cosine":
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d < 2:
            raise ValueError(f"d: expected an integer dimension >= 2 for cosine scores, got {d}")
        h = (d - 1) / 2.0
        return 2.0 * rng.beta(h, h, size) - 1.0
    raise ValueError(f"law: expected 'normal' or 'cosine', got {law!r}")


def monte_carlo(
    alphas,
    n: int,
    repeats: int,
    rng: np.random.Generator,
    law: _ScoreLaw = "normal",
    d=None,
    statistic: _Statistic = "gradient_size",
) -> np.ndarray:
    """Exact per-sample values of a softmax statistic at each alpha, shape (len(alphas), repeats).

    Draws ``repeats`` score vectors of length ``n`` once and reuses them for every alpha (common
    random numbers: curves in alpha are smooth and their argmax is less noisy). statistic is
    ``gradient_size`` (eq. (3)), ``collision`` (sum p^2) or ``entropy`` (Shannon, nats).
    """
    a = _scale_real(alphas, "alphas")
    if a.ndim != 1 or np.any(a < 0):
        raise ValueError("alphas: expected a 1-D array of scales >= 0")
    for name, v, low in (("n", n, 2), ("repeats", repeats, 1)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise TypeError(f"{name}: expected an int, got {type(v).__name__}")
        if v < low:
            raise ValueError(f"{name}: expected an integer >= {low}, got {v}")
    if statistic not in ("gradient_size", "collision", "entropy"):
        raise ValueError(
            f"statistic: expected 'gradient_size', 'collision' or 'entropy', got {statistic!r}"
        )
    s = sample_scores(rng, (int(repeats), int(n)), law, d)
    top = np.argmax(s, axis=-1)[:, None]
    s -= np.take_along_axis(s, top, axis=-1)  # s <= 0 with s[top] = 0, so alpha*s is shifted too
    out = np.empty((a.size, int(repeats)))
    rows = max(1, 2**18 // int(n))  # blocks of ~2 MB keep the temporaries in cache
    for lo in range(0, int(repeats), rows):
        blk, t = s[lo : lo + rows], top[lo : lo + rows]
        for k, ai in enumerate(a):
            out[k, lo : lo + rows] = _scale_statistic(statistic, ai, ai * blk, t)
    return out


def plateau(alphas, values, level: float = 0.9) -> tuple[float, float, float]:
    """Where a curve sampled at increasing ``alphas`` stays above ``level`` x its maximum.

    Returns (low, high, centre): the two crossings, interpolated linearly in log alpha, and their
    geometric mean. A flat-topped Monte Carlo curve has a noisy argmax; these are far steadier.
    """
    a = _scale_real(alphas, "alphas")
    y = _scale_real(values, "values")
    if a.ndim != 1 or a.shape != y.shape or a.size < 3 or np.any(a <= 0) or np.any(np.diff(a) <= 0):
        raise ValueError("alphas, values: expected equal-length 1-D arrays, alphas > 0 increasing")
    if not 0 < level < 1:
        raise ValueError(f"level: expected a fraction in (0, 1), got {level}")
    i = int(np.argmax(y))
    cut = level * y[i]
    if y[i] <= 0:
        raise ValueError("values: expected a positive maximum")
    below = np.flatnonzero(y < cut)
    left, right = below[below < i], below[below > i]
    if left.size == 0 or right.size == 0:
        raise ValueError("values: the curve does not fall below level x max on both sides of the grid")
    j, k = left[-1], right[0]  # y[j] < cut <= y[j+1], y[k-1] >= cut > y[k]
    la = np.log(a)
    lo = np.interp(cut, [y[j], y[j + 1]], [la[j], la[j + 1]])
    hi = np.interp(cut, [y[k], y[k - 1]], [la[k], la[k - 1]])
    return float(np.exp(lo)), float(np.exp(hi)), float(np.exp((lo + hi) / 2))


# ---------------------------------------------------------------------------------------------
# Notebook 03: concentration (sparsity measure, closed forms for softmax / linear attention)
# ---------------------------------------------------------------------------------------------

# The sparsity index S(x) = E|x| / sqrt(E x^2) of Su's post 9889 (introduced in post 9595), its
# closed forms for attention rows a_j ∝ f(q·k_j) with Gaussian keys (n -> infinity), the exact
# formula for non-negative linear attention, linear decay, and Taylor features of exp.
# Conventions: beta = q·mu and gamma = sigma*||q|| absorb any 1/sqrt(d) temperature; t = beta/gamma.

import itertools as _itertools  # noqa: E402
import math as _math  # noqa: E402

from scipy import integrate as _integrate  # noqa: E402
from scipy import special as _special  # noqa: E402

_FOCUS_SQRT_2PI = _math.sqrt(2.0 * _math.pi)


def _focus_real(x, name: str) -> np.ndarray:
    """``x`` as a float array; TypeError for non-real input, ValueError for NaN or inf."""
    arr = np.asarray(x)
    if arr.dtype == object or np.iscomplexobj(arr) or not (
        np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
    ):
        raise TypeError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite numbers, found NaN or inf")
    return arr


def _focus_unwrap(arr: np.ndarray):
    """A 0-d result as a Python float, anything else unchanged."""
    return float(arr) if np.ndim(arr) == 0 else arr


def _focus_beta_gamma(beta, gamma) -> tuple[np.ndarray, np.ndarray]:
    b = _focus_real(beta, "beta")
    g = _focus_real(gamma, "gamma")
    if np.any(g <= 0):
        raise ValueError("gamma: expected gamma = sigma*||q|| > 0")
    try:
        return np.broadcast_arrays(b, g)
    except ValueError:
        raise ValueError(
            f"beta, gamma: shapes {b.shape} and {g.shape} do not broadcast"
        ) from None


def sparsity(x, axis: int = -1):
    """Sparsity index S(x) = mean|x| / sqrt(mean x^2) along ``axis`` (post 9889, eq. 1).

    Equals ||x||_1 / (sqrt(n) ||x||_2), lies in [1/sqrt(n), 1]: 1/sqrt(n) for a single non-zero
    entry, 1 when all |x_i| are equal; invariant to positive scaling and to signs.
    Returns a float for a 1-D input, else an array with ``axis`` removed.
    """
    arr = _focus_real(x, "x")
    if arr.ndim == 0:
        raise ValueError("x: expected an array with at least one axis, got a scalar")
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"axis: expected an int, got {type(axis).__name__}")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis: {axis} is out of range for an array with {arr.ndim} axes")
    if arr.shape[axis] == 0:
        raise ValueError("x: the reduced axis is empty")
    a = np.abs(arr)
    top = a.max(axis=axis, keepdims=True)
    if np.any(top == 0):
        raise ValueError("x: S is undefined for an all-zero vector (0/0)")
    a = a / top  # scale-free, so squares neither overflow nor underflow
    return _focus_unwrap(a.mean(axis=axis) / np.sqrt((a * a).mean(axis=axis)))


def sparsity_bounds(n: int) -> tuple[float, float]:
    """The range [1/sqrt(n), 1] of S over non-zero vectors of length n."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"n: expected an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n: expected n >= 1, got {n}")
    return 1.0 / _math.sqrt(n), 1.0


def sparsity_mc(samples) -> tuple[float, float]:
    """Monte Carlo estimate of S = E|X| / sqrt(E X^2) from i.i.d. samples, with its standard error.

    The error comes from the delta method on the two sample means (|X|, X^2); it is honest only
    when E X^4 is finite and well sampled (not the case for lognormal tails at large gamma).
    """
    y = _focus_real(samples, "samples")
    if y.ndim != 1 or y.size < 2:
        raise ValueError(f"samples: expected a 1-D array of at least 2 samples, got shape {y.shape}")
    a = np.abs(y)
    top = a.max()
    if top == 0:
        raise ValueError("samples: all zero, S is undefined")
    a = a / top
    m1, m2 = a.mean(), (a * a).mean()
    grad = np.array([1.0 / np.sqrt(m2), -m1 / (2.0 * m2**1.5)])
    cov = np.cov(np.stack([a, a * a]))
    return float(m1 / np.sqrt(m2)), float(np.sqrt(grad @ cov @ grad / a.size))


def gaussian_expectation(
    g, beta: float, gamma: float, *, kinks=(), half_width: float = 40.0, epsrel: float = 1e-11,
    epsabs: float = 1e-13,
) -> float:
    """E[g(beta + gamma*eps)], eps ~ N(0, 1), by ``scipy.integrate.quad``.

    Integrates over eps in [-half_width, half_width], split every 2.5 units and at the
    ``kinks`` (points x where g is not smooth, in the argument of g). Stops when the error
    estimate is below max(epsabs, epsrel * |value|).
    """
    if not callable(g):
        raise TypeError("g: expected a callable of one float")
    (b, gm) = (float(v) for v in _focus_beta_gamma(beta, gamma))
    if not half_width > 0:
        raise ValueError(f"half_width: expected > 0, got {half_width}")
    z_kinks = [(float(k) - b) / gm for k in np.atleast_1d(_focus_real(kinks, "kinks"))]
    grid = np.linspace(-half_width, half_width, int(np.ceil(2 * half_width / 2.5)) + 1)
    points = sorted({float(z) for z in [*grid[1:-1], *z_kinks] if -half_width < z < half_width})

    def integrand(z: float) -> float:
        return g(b + gm * z) * _math.exp(-0.5 * z * z) / _FOCUS_SQRT_2PI

    value, _ = _integrate.quad(
        integrand, -half_width, half_width, points=points, limit=50 * (len(points) + 1),
        epsabs=epsabs, epsrel=epsrel,
    )
    return float(value)


def sparsity_gaussian(f, beta: float, gamma: float, *, kinks=()) -> float:
    """S of an attention row a_j ∝ f(q·k_j) with keys k ~ N(mu, sigma^2 I), n -> infinity:
    E|f(beta + gamma*eps)| / sqrt(E f^2(beta + gamma*eps)) by numerical integration (post eq. 4)."""
    if not callable(f):
        raise TypeError("f: expected a callable of one float")
    m1 = gaussian_expectation(lambda x: abs(f(x)), beta, gamma, kinks=kinks)
    m2 = gaussian_expectation(lambda x: f(x) ** 2, beta, gamma, kinks=kinks)
    if m2 <= 0:
        raise ValueError("f: f(beta + gamma*eps) vanishes almost surely, S is undefined")
    return m1 / _math.sqrt(m2)


def sparsity_exp(beta, gamma):
    """Softmax attention, f = exp: S = exp(-gamma^2 / 2) for every beta (post eq. 5)."""
    b, g = _focus_beta_gamma(beta, gamma)
    return _focus_unwrap(np.exp(-0.5 * g * g) + 0.0 * b)


def _focus_order(k, name: str) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"{name}: expected an int, got {type(k).__name__}")
    if k < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {k}")
    return int(k)


def relu_moment(t, k: int):
    """E[relu(t + eps)^k], eps ~ N(0, 1): k! exp(-t^2/4) D_{-k-1}(-t) / sqrt(2 pi), with D the
    parabolic-cylinder function (``scipy.special.pbdv``); for t >= 0 the full moment minus
    the (small) negative part, so neither side cancels catastrophically."""
    k = _focus_order(k, "k")
    t = _focus_real(t, "t")
    fact = _math.factorial(k)
    with np.errstate(over="ignore", under="ignore"):
        neg = t < 0
        tn = np.where(neg, t, -1.0)  # dummy values keep pbdv away from overflow
        tp = np.where(neg, 1.0, t)
        left = fact * np.exp(-0.25 * tn * tn) * _special.pbdv(-k - 1.0, -tn)[0] / _FOCUS_SQRT_2PI
        full = sum(  # E (t + eps)^k: only even moments (j-1)!! of eps survive
            _math.comb(k, j) * _math.prod(range(j - 1, 0, -2)) * tp ** (k - j)
            for j in range(0, k + 1, 2)
        )
        lower = fact * np.exp(-0.25 * tp * tp) * _special.pbdv(-k - 1.0, tp)[0] / _FOCUS_SQRT_2PI
        right = full - (-1) ** k * lower
    return _focus_unwrap(np.where(neg, left, right))


def sparsity_relu_power(beta, gamma, power: int = 2):
    """S for f = relu^p (p = 2: GAU/FLASH, post eq. 6): E relu^p / sqrt(E relu^2p) at t = beta/gamma.

    Depends on t only (relu^p is homogeneous). For t < 0 it is evaluated as
    p!/sqrt((2p)!) (2 pi)^(-1/4) exp(-t^2/8) D_{-p-1}(-t) / sqrt(D_{-2p-1}(-t)), accurate to
    ~1e-15 down to t = -40; below that ``pbdv`` underflows and the (< 1e-170) S is returned as 0.
    """
    p = _focus_order(power, "power")
    if p == 0:
        raise ValueError("power: expected p >= 1 (p = 0 is a constant row)")
    b, g = _focus_beta_gamma(beta, gamma)
    t = b / g
    neg = t < 0
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        tn = np.where(neg, t, -1.0)
        num = _special.pbdv(-p - 1.0, -tn)[0]
        den = _special.pbdv(-2.0 * p - 1.0, -tn)[0]
        const = _math.factorial(p) / _math.sqrt(_math.factorial(2 * p)) / _FOCUS_SQRT_2PI**0.5
        s_neg = np.where(den > 0, const * np.exp(-0.125 * tn * tn) * num / np.sqrt(den), 0.0)
        tp = np.where(neg, 1.0, t)
        s_pos = np.asarray(relu_moment(tp, p)) / np.sqrt(relu_moment(tp, 2 * p))
    return _focus_unwrap(np.where(neg, s_neg, s_pos))


def sparsity_relu2(beta, gamma):
    """S for GAU's f = relu^2 (post eq. 6); equals
    ((t^2+1) Phi + t phi) / sqrt((t^4+6t^2+3) Phi + (t^3+5t) phi) at t = beta/gamma."""
    return sparsity_relu_power(beta, gamma, 2)


def sparsity_relu2_erf(beta, gamma):
    """The relu^2 closed form exactly as printed in the post (erf and exp(beta^2/2gamma^2)).

    Kept to show its numerics: erf(t/sqrt 2) + 1 cancels for t below about -5, giving NaN or a
    wrong sign under the square root. Use ``sparsity_relu2`` instead.
    """
    b, g = _focus_beta_gamma(beta, gamma)
    with np.errstate(over="ignore", invalid="ignore"):
        e = _special.erf(b / (_math.sqrt(2.0) * g)) + 1.0
        w = np.exp(-b * b / (2 * g * g))
        num = w * (_math.sqrt(2.0) * b * g + _math.sqrt(_math.pi) / w * (b * b + g * g) * e)
        den = _math.pi**0.25 * np.sqrt(
            2 * _math.sqrt(2.0) * b * g * w * (b * b + 5 * g * g)
            + 2 * _math.sqrt(_math.pi) * (b**4 + 6 * b * b * g * g + 3 * g**4) * e
        )
        return _focus_unwrap(num / den)


def sparsity_identity(beta, gamma):
    """Simplest linear attention, f = identity (signed weights), post eq. 7:
    S = (sqrt(2/pi) exp(-t^2/2) + t erf(t/sqrt 2)) / sqrt(1 + t^2), t = beta/gamma.
    Even in beta; minimum sqrt(2/pi) at beta = 0."""
    b, g = _focus_beta_gamma(beta, gamma)
    t = b / g
    folded = _math.sqrt(2.0 / _math.pi) * np.exp(-0.5 * t * t) + t * _special.erf(t / _math.sqrt(2.0))
    return _focus_unwrap(folded / np.sqrt(1.0 + t * t))


def sparsity_general_linear(q_feat, key_mean, key_cov):
    """Non-negative linear attention a_j ∝ q~·k~_j (post eq. 8), exact for any key sequence:
    S = 1 / sqrt(1 + q~' Sigma q~ / (q~' mu)^2) with mu, Sigma the mean and (1/n) covariance of
    the k~_j. ``q_feat`` may carry leading batch axes (..., d)."""
    q = _focus_real(q_feat, "q_feat")
    mu = _focus_real(key_mean, "key_mean")
    cov = _focus_real(key_cov, "key_cov")
    if q.ndim < 1 or mu.ndim != 1 or q.shape[-1] != mu.shape[0]:
        raise ValueError(f"q_feat, key_mean: expected shapes (..., d) and (d,), got {q.shape}, {mu.shape}")
    d = mu.shape[0]
    if cov.shape != (d, d):
        raise ValueError(f"key_cov: expected shape ({d}, {d}), got {cov.shape}")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(cov).max())):
        raise ValueError("key_cov: expected a symmetric matrix")
    if np.any(q < 0) or np.any(mu < 0):
        raise ValueError("q_feat, key_mean: non-negative features expected (a_j >= 0)")
    signal = q @ mu
    if np.any(signal <= 0):
        raise ValueError("q_feat, key_mean: q~·mu = 0, every weight is zero and S is undefined")
    spread = np.einsum("...i,ij,...j->...", q, cov, q)
    if np.any(spread < -1e-12 * signal**2):
        raise ValueError("key_cov: not positive semi-definite along q_feat")
    return _focus_unwrap(1.0 / np.sqrt(1.0 + np.maximum(spread, 0.0) / signal**2))


def sparsity_iid_linear(q_feat, cv):
    """The i.i.d.-feature case of ``sparsity_general_linear`` (post eq. 9):
    S = 1 / sqrt(1 + (cv * ||q~||_2 / ||q~||_1)^2), cv = sigma~/mu~ of one key feature.
    Note ||q~||_2/||q~||_1 lies in [1/sqrt(d), 1]."""
    q = _focus_real(q_feat, "q_feat")
    c = _focus_real(cv, "cv")
    if q.ndim < 1:
        raise ValueError("q_feat: expected a vector (..., d)")
    if np.any(q < 0):
        raise ValueError("q_feat: non-negative features expected")
    l1 = q.sum(axis=-1)
    if np.any(l1 == 0):
        raise ValueError("q_feat: the zero vector gives no attention at all")
    if np.any(c < 0):
        raise ValueError("cv: expected sigma~/mu~ >= 0")
    ratio = np.linalg.norm(q, axis=-1) / l1
    return _focus_unwrap(1.0 / np.sqrt(1.0 + (c * ratio) ** 2))


def _focus_decay_args(lam, n) -> tuple[np.ndarray, np.ndarray]:
    lam_arr = _focus_real(lam, "lam")
    if np.any((lam_arr <= 0) | (lam_arr > 1)):
        raise ValueError("lam: expected a decay factor in (0, 1]")
    n_arr = np.asarray(n)
    if not np.issubdtype(n_arr.dtype, np.integer):
        raise TypeError(f"n: expected integers, got dtype {n_arr.dtype}")
    if np.any(n_arr < 1):
        raise ValueError("n: expected a sequence length n >= 1")
    return np.broadcast_arrays(lam_arr, n_arr.astype(float))


def sparsity_linear_decay(lam, n):
    """S of the fixed linear-RNN row (lam^(n-1), ..., lam, 1) (post eq. 11):
    sqrt((1 - lam^n)(1 + lam) / (n (1 - lam)(1 + lam^n))); equals 1 at lam = 1."""
    lam_arr, n_arr = _focus_decay_args(lam, n)
    log_lam = np.log(lam_arr)
    with np.errstate(invalid="ignore", divide="ignore"):
        geo = np.where(lam_arr < 1, np.expm1(n_arr * log_lam) / np.expm1(log_lam), n_arr)
    s2 = geo * (1.0 + lam_arr) / (n_arr * (1.0 + lam_arr**n_arr))
    return _focus_unwrap(np.sqrt(s2))


def linear_decay_bound(lam, n):
    """The post's upper bound sqrt((1 + lam) / (n (1 - lam)(1 + lam^n))) (inf at lam = 1)."""
    lam_arr, n_arr = _focus_decay_args(lam, n)
    with np.errstate(divide="ignore"):
        return _focus_unwrap(np.sqrt((1 + lam_arr) / (n_arr * (1 - lam_arr) * (1 + lam_arr**n_arr))))


def effective_tokens(p, axis: int = -1):
    """N_eff = 1 / sum p_i^2 = exp(Renyi-2 entropy) of probability vectors along ``axis``;
    S(p)^2 = N_eff / n."""
    arr = _focus_real(p, "p")
    if arr.ndim == 0 or arr.shape[axis] == 0:
        raise ValueError("p: expected a non-empty probability vector")
    if np.any(arr < 0) or not np.allclose(arr.sum(axis=axis), 1.0, rtol=0, atol=1e-9):
        raise ValueError("p: expected non-negative entries summing to 1")
    return _focus_unwrap(1.0 / (arr * arr).sum(axis=axis))


def elu_plus_one(x):
    """The feature map elu(x) + 1 of Katharopoulos et al. (2020): x + 1 for x > 0, exp(x) else."""
    arr = _focus_real(x, "x")
    return np.where(arr > 0, arr + 1.0, np.exp(np.minimum(arr, 0.0)))


def positive_random_features(x, w):
    """Performer's positive random features phi(x) = exp(W x - ||x||^2/2) / sqrt(m), W: (m, d);
    E_W phi(x)·phi(y) = exp(x·y) when the rows of W are N(0, I)."""
    xa = _focus_real(x, "x")
    wa = _focus_real(w, "w")
    if wa.ndim != 2 or xa.ndim < 1 or xa.shape[-1] != wa.shape[1]:
        raise ValueError(f"x, w: expected shapes (..., d) and (m, d), got {xa.shape}, {wa.shape}")
    return np.exp(xa @ wa.T - 0.5 * (xa * xa).sum(-1, keepdims=True)) / _math.sqrt(wa.shape[0])


def taylor_exp(s, order: int):
    """T_P(s) = sum_{p <= P} s^p / p!, the kernel of Taylor-feature linear attention; > 0 for even P."""
    P = _focus_order(order, "order")
    coef = 1.0 / _special.factorial(np.arange(P + 1))
    return _focus_unwrap(np.polynomial.polynomial.polyval(_focus_real(s, "s"), coef))


def taylor_features(x, order: int) -> np.ndarray:
    """Explicit features with phi(x)·phi(y) = T_P(x·y): all monomials x^alpha / sqrt(alpha!),
    |alpha| <= P; feature dimension C(d + P, P). x: (..., d)."""
    P = _focus_order(order, "order")
    xa = _focus_real(x, "x")
    if xa.ndim < 1 or xa.shape[-1] == 0:
        raise ValueError("x: expected vectors (..., d) with d >= 1")
    d = xa.shape[-1]
    combos = [c for p in range(P + 1) for c in _itertools.combinations_with_replacement(range(d), p)]
    idx = np.full((len(combos), max(P, 1)), d)  # index d points at a padding 1
    for row, c in enumerate(combos):
        idx[row, : len(c)] = c
    norm = np.array(
        [_math.prod(_math.factorial(c.count(i)) for i in set(c)) for c in combos], dtype=float
    )
    padded = np.concatenate([xa, np.ones(xa.shape[:-1] + (1,))], axis=-1)
    return padded[..., idx].prod(axis=-1) / np.sqrt(norm)


def causal_softmax_attention(q, k, scale: float = 1.0) -> np.ndarray:
    """Row-stochastic causal softmax attention softmax(scale * q k' + mask), q, k: (n, d)."""
    qa, ka = _focus_real(q, "q"), _focus_real(k, "k")
    if qa.ndim != 2 or qa.shape != ka.shape:
        raise ValueError(f"q, k: expected equal shapes (n, d), got {qa.shape}, {ka.shape}")
    logits = scale * qa @ ka.T
    logits[np.triu_indices(qa.shape[0], 1)] = -np.inf
    return _special.softmax(logits, axis=-1)


def linear_attention_weights(q_feat, k_feat, *, causal: bool = True, eps: float = 0.0) -> np.ndarray:
    """Weights (q~_i·k~_j) / (sum_j' q~_i·k~_j' + eps) of linear attention (causal: j <= i).

    With eps = 0 a row whose weights all vanish (possible for relu features) raises ValueError;
    fast-transformers uses eps = 1e-6 and returns a zero row instead."""
    qa, ka = _focus_real(q_feat, "q_feat"), _focus_real(k_feat, "k_feat")
    if qa.ndim != 2 or qa.shape != ka.shape:
        raise ValueError(f"q_feat, k_feat: expected equal shapes (n, d), got {qa.shape}, {ka.shape}")
    if np.any(qa < 0) or np.any(ka < 0):
        raise ValueError("q_feat, k_feat: non-negative features expected")
    w = qa @ ka.T
    if causal:
        w = np.tril(w)
    z = w.sum(axis=-1, keepdims=True) + eps
    if np.any(z == 0):
        raise ValueError("q_feat, k_feat: a row has no positive weight (0/0); pass eps > 0")
    return w / z
