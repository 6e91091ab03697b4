"""The attention scale from gradient maximisation (notebook 02; post kexue.fm/archives/9812).

p = softmax(alpha * s) over the last axis, s = scores of one query against n keys. Equation
numbers are those of notebook 02 (the post's (1)-(7)); "Step k" is the notebook's step.

Validation: every public argument goes through :mod:`helpers._validate` (real floats only, no
NaN/inf, sizes via ``operator.index`` with ceilings, memory checked before large allocations).
Torch rule: the numpy-side functions take torch tensors and convert them with ``.detach()``
(results are numpy); :func:`gradient_size_torch` keeps the tensor, its device and its autograd
graph (tensor in, tensor out); :func:`train_retrieval` builds its own float64 CPU tensors.
scipy.special, scipy.integrate, scipy.optimize and torch are imported inside the functions that
use them, so that importing the module costs little more than numpy.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import numpy as np
from helpers import _validate as _v

__all__ = [
    "scaled_softmax",
    "softmax_jacobian",
    "collision_probability",
    "gradient_size",
    "softmax_entropy",
    "gradient_size_torch",
    "plugin_collision_normal",
    "plugin_objective_normal",
    "alpha_star_normal",
    "log_mgf_cosine",
    "plugin_collision_cosine",
    "plugin_objective_cosine",
    "alpha_star_cosine",
    "mean_limit_normal",
    "mean_gradient_size_normal",
    "sample_scores",
    "monte_carlo",
    "plateau",
    "RetrievalRun",
    "train_retrieval",
]

_ScoreLaw = Literal["normal", "cosine"]
_Statistic = Literal["gradient_size", "collision", "entropy"]
_Optimizer = Literal["sgd", "adam"]

_MAX_KEYS = 10**8  # n: ceiling on the number of keys of one score vector
_MAX_D = 10**9  # d: ceiling on the dimension of the cosine law


def _scores(scores: Any) -> np.ndarray:
    s = _v.real_array(scores, "scores", min_ndim=1)
    if s.shape[-1] < 1:
        raise ValueError(f"scores: expected an array of shape (..., n) with n >= 1, got {s.shape}")
    return s


def _alpha_for(alpha: Any, lead: tuple[int, ...]) -> np.ndarray:
    a = _v.real_array(alpha, "alpha", low=0.0)
    try:
        np.broadcast_shapes(a.shape, lead)
    except ValueError:
        raise ValueError(
            f"alpha: shape {a.shape} does not broadcast against the scores' leading shape {lead}"
        ) from None
    return a


def _shifted(scores: Any, alpha: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated alpha, x = alpha (s - max s) <= 0 and the index of the max (last axis).

    The max is subtracted *before* scaling, so a huge alpha gives -inf (weight 0), never inf - inf.
    """
    s = _scores(scores)
    a = _alpha_for(alpha, s.shape[:-1])
    top = np.argmax(s, axis=-1)[..., None]
    with np.errstate(over="ignore"):
        gap = s - np.take_along_axis(s, top, axis=-1)  # <= 0, may be -inf for s spanning 2e308
    aa = np.broadcast_to(a[..., None], np.broadcast_shapes(a[..., None].shape, gap.shape))
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.where(aa == 0, 0.0, aa * gap)  # 0 * (-inf) is 0 here: alpha = 0 is uniform
    top = np.broadcast_to(top, x.shape[:-1] + (1,))
    return a, x, top


def _parts(x: np.ndarray, top: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For x <= 0 with x[top] = 0: e = e^x with the top entry zeroed, T = sum e, Q = sum e^2.

    With the top entry (e^0 = 1) held out, 1 - sum p^2 = (2T + T^2 - Q)/(1 + T)^2 has no
    cancellation, so the gradient size stays accurate when p is nearly one-hot (large alpha).
    """
    e = np.exp(x)
    np.put_along_axis(e, top, 0.0, axis=-1)
    return e, e.sum(-1), np.einsum("...i,...i->...", e, e)


def _statistic(kind: str, a: np.ndarray, x: np.ndarray, top: np.ndarray) -> np.ndarray:
    e, t, q = _parts(x, top)
    if kind == "gradient_size":
        return a * (2.0 * t + t * t - q) / (1.0 + t) ** 2
    if kind == "collision":
        return (1.0 + q) / (1.0 + t) ** 2
    xf = np.where(np.isfinite(x), x, 0.0)  # e^x x -> 0 as x -> -inf (there e = 0)
    return np.log1p(t) - np.einsum("...i,...i->...", e, xf) / (1.0 + t)  # Shannon entropy


def scaled_softmax(scores: Any, alpha: Any = 1.0) -> np.ndarray:
    """p = softmax(alpha * s) over the last axis, the p of eq. (2) of notebook 02.

    ``alpha`` (>= 0) broadcasts against ``scores.shape[:-1]``; the max is subtracted first, so
    any finite alpha is safe. Raises: ValueError/TypeError naming ``scores`` or ``alpha``.
    """
    a, x, top = _shifted(scores, alpha)
    return np.exp(x) / np.exp(x).sum(-1, keepdims=True)


def softmax_jacobian(scores: Any, alpha: Any = 1.0) -> np.ndarray:
    """dp_i/ds_j = alpha (p_i delta_ij - p_i p_j), eq. (2) of notebook 02; shape (..., n, n).

    Raises: ValueError/TypeError naming ``scores`` or ``alpha``; ValueError if the n x n
    result would exceed the memory budget.
    """
    s = _scores(scores)
    n = s.shape[-1]
    _v.check_memory(8.0 * 3 * max(1, s.size) * n, "scores")
    a, x, _ = _shifted(s, alpha)
    p = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
    a = a[..., None, None]
    return a * (p[..., :, None] * np.eye(n) - p[..., :, None] * p[..., None, :])


def collision_probability(scores: Any, alpha: Any = 1.0) -> np.ndarray:
    """sum_i p_i^2 = exp(-H_2(p)), the quantity that the plug-in eq. (4) of notebook 02 replaces.

    Raises: ValueError/TypeError naming ``scores`` or ``alpha``.
    """
    return _statistic("collision", *_shifted(scores, alpha))


def gradient_size(scores: Any, alpha: Any = 1.0) -> np.ndarray:
    """(1/2) sum_ij |dp_i/ds_j| = alpha (1 - sum_i p_i^2), eq. (3) of notebook 02.

    One value per score vector; ``alpha`` (>= 0) broadcasts against ``scores.shape[:-1]``.
    Raises: ValueError/TypeError naming ``scores`` or ``alpha``.
    """
    return _statistic("gradient_size", *_shifted(scores, alpha))


def softmax_entropy(scores: Any, alpha: Any = 1.0) -> np.ndarray:
    """Shannon entropy -sum p_i log p_i (nats) of softmax(alpha * s), Step 16 of notebook 02.

    Raises: ValueError/TypeError naming ``scores`` or ``alpha``.
    """
    return _statistic("entropy", *_shifted(scores, alpha))


def gradient_size_torch(scores: Any, alpha: Any = 1.0) -> Any:
    """Torch version of :func:`gradient_size`, alpha (1 - |p|^2), eq. (3) of notebook 02.

    Tensor in, tensor out: differentiable, on the device of ``scores``. ``alpha`` is a number,
    an array or a tensor (>= 0), broadcast against ``scores.shape[:-1]``.
    Raises: TypeError if ``scores`` is not a real floating tensor; ValueError naming ``scores``
    (empty last axis, NaN/inf, no axis) or ``alpha`` (negative, NaN/inf, shape).
    """
    import torch

    _v.real_tensor(scores, "scores", allow_empty=False)
    if scores.ndim == 0 or scores.shape[-1] < 1:
        raise ValueError(f"scores: expected a tensor of shape (..., n) with n >= 1, "
                         f"got {tuple(scores.shape)}")
    if _v.is_tensor(alpha):
        if alpha.is_complex():
            raise TypeError("alpha: expected a real tensor, got a complex tensor")
        _v.real_array(alpha, "alpha", low=0.0)
        alpha = alpha.to(dtype=scores.dtype, device=scores.device)
    else:
        alpha = torch.as_tensor(_v.real_array(alpha, "alpha", low=0.0), dtype=scores.dtype,
                                device=scores.device)
    try:
        torch.broadcast_shapes(alpha.shape, scores.shape[:-1])
    except RuntimeError:
        raise ValueError(f"alpha: shape {tuple(alpha.shape)} does not broadcast against the "
                         f"scores' leading shape {tuple(scores.shape[:-1])}") from None
    p = torch.softmax(alpha[..., None] * scores, dim=-1)
    return alpha * (1.0 - (p * p).sum(-1))


# --- the post's plug-in objective: sum p^2 ~ E[e^{2 a s}] / (n E[e^{a s}]^2), eq. (4) ---------


def _count(n: Any, name: str = "n", low: float = 2.0) -> np.ndarray:
    return _v.real_array(n, name, low=low)


def plugin_collision_normal(alpha: Any, n: Any) -> np.ndarray:
    """Plug-in (4)-(5) of notebook 02 with s ~ N(0, 1): E[e^{2 alpha s}] / (n E[e^{alpha s}]^2)
    = e^{alpha^2} / n (inf where e^{alpha^2} overflows).

    Raises: ValueError/TypeError naming ``alpha`` or ``n`` (n >= 2, real).
    """
    a = _v.real_array(alpha, "alpha")
    n_arr = _count(n)
    with np.errstate(over="ignore"):
        return np.exp(a * a) / n_arr


def plugin_objective_normal(alpha: Any, n: Any) -> np.ndarray:
    """alpha (1 - e^{alpha^2} / n), eq. (6) of notebook 02 (-inf beyond alpha ~ 26.6).

    Raises: ValueError/TypeError naming ``alpha`` or ``n`` (n >= 2).
    """
    a = _v.real_array(alpha, "alpha")
    n_arr = _count(n)
    with np.errstate(over="ignore"):
        return a * (1.0 - np.exp(a * a) / n_arr)


def alpha_star_normal(n: Any) -> np.ndarray:
    """Maximiser of eq. (6): the root of (1 + 2a^2) e^{a^2} = n, a = sqrt(W(sqrt(e) n / 2) - 1/2)
    (Step 5 of notebook 02).

    Raises: ValueError/TypeError naming ``n`` (n >= 2).
    """
    from scipy import special as _sps

    n_arr = _count(n)
    w = _sps.lambertw(np.sqrt(np.e) * n_arr / 2.0).real
    return np.sqrt(w - 0.5)


def _log_iv_debye_rest(nu: np.ndarray, x: np.ndarray) -> np.ndarray:
    """log I_nu(x) - x by the uniform (Debye) expansion, DLMF 10.41.3, terms to u_4 (nu >= 500).

    nu * sqrt(1 + z^2) - x = nu^2 / (nu sqrt(1 + z^2) + x) is formed without cancellation."""
    z = x / nu
    s = np.hypot(1.0, z)  # sqrt(1 + z^2) without overflow
    t = 1.0 / s
    u1 = t * (3 - 5 * t**2) / 24
    u2 = t**2 * (81 - 462 * t**2 + 385 * t**4) / 1152
    u3 = t**3 * (30375 - 369603 * t**2 + 765765 * t**4 - 425425 * t**6) / 414720
    u4 = t**4 * (4465125 - 94121676 * t**2 + 349922430 * t**4 - 446185740 * t**6
                 + 185910725 * t**8) / 39813120
    series = 1 + u1 / nu + u2 / nu**2 + u3 / nu**3 + u4 / nu**4
    return (nu * nu / (nu * s + x) + nu * np.log(z / (1.0 + s)) - 0.5 * np.log(2 * np.pi * nu * s)
            + np.log(series))


def _log_iv_hankel_rest(nu: np.ndarray, x: np.ndarray) -> np.ndarray:
    """log I_nu(x) - x by the large-argument expansion, DLMF 10.40.1, three terms (x >> nu^2)."""
    mu = 4.0 * nu * nu
    r = (mu - 1) / (8.0 * x)  # small: x > 1e4 (nu + 1)^2
    corr = -r + r * (mu - 9) / (16.0 * x) * r - r * ((mu - 9) / (8.0 * x)) * ((mu - 25) / (8.0 * x)) / 6
    return -0.5 * np.log(2 * np.pi * x) + np.log1p(corr)


def _log_mgf_cosine_split(a: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lin, rest) with log E[e^{a s}] = lin + rest and lin = a (large a) or 0, a >= 0 validated.

    Splitting off the linear growth lets K(2a) - 2K(a) be formed without cancellation."""
    from scipy import special as _sps

    a, d = np.broadcast_arrays(a, d)
    nu = d / 2.0 - 1.0
    lin, rest = np.zeros(a.shape), np.full(a.shape, np.nan)
    series = a <= np.sqrt(2.0 * d)  # 0F1 - 1 = sum_k z^k / ((d/2)_k k!), z = a^2/4: terms <= 1/k!
    z, b = a[series] ** 2 / 4.0, d[series] / 2.0
    term, total = np.ones(z.shape), np.zeros(z.shape)
    for k in range(1, 32):
        term = term * z / (k * (b + k - 1.0))
        total += term
    rest[series] = np.log1p(total)
    mid = ~series & (a < nu)
    with np.errstate(over="ignore"):
        rest[mid] = np.log(_sps.hyp0f1(d[mid] / 2.0, a[mid] ** 2 / 4.0))
    hankel = ~series & ~mid & (a > 1e4 * (nu + 1.0) ** 2)
    aa, nn = a[hankel], nu[hankel]
    rest[hankel] = _sps.gammaln(nn + 1) + nn * np.log(2.0 / aa) + _log_iv_hankel_rest(nn, aa)
    bessel = ~series & ~mid & ~hankel & (nu < 500)
    aa, nn = a[bessel], nu[bessel]
    with np.errstate(divide="ignore", invalid="ignore"):
        rest[bessel] = _sps.gammaln(nn + 1) + nn * np.log(2.0 / aa) + np.log(_sps.ive(nn, aa))
    debye = ~series & ~mid & ~np.isfinite(rest)
    aa, nn = a[debye], nu[debye]
    rest[debye] = _sps.gammaln(nn + 1) + nn * np.log(2.0 / aa) + _log_iv_debye_rest(nn, aa)
    lin[~series & ~mid] = a[~series & ~mid]
    return lin, rest


def log_mgf_cosine(alpha: Any, d: Any) -> np.ndarray:
    """log E[e^{alpha s}] for s the cosine of two uniform directions in R^d (density eq. (7) of
    notebook 02; closed form of Step 8).

    E[e^{alpha s}] = 0F1(; d/2; alpha^2/4) = Gamma(d/2) (2/alpha)^nu I_nu(alpha), nu = d/2 - 1.
    Evaluated by its power series while alpha^2 <= 2d, with hyp0f1 up to alpha = nu, with the
    scaled Bessel function ive above, with the large-argument expansion of I_nu for
    alpha > 1e4 (nu + 1)^2, and with the Debye expansion where the others under- or overflow
    (nu >= 500). Finite for every finite alpha (about |alpha| - (d-1)/2 log|alpha| for large alpha).
    Raises: ValueError/TypeError naming ``alpha`` or ``d`` (d >= 2, real).
    """
    a = np.abs(_v.real_array(alpha, "alpha"))
    d = _v.real_array(d, "d", low=2.0, high=_MAX_D)
    lin, rest = _log_mgf_cosine_split(a, d)
    out = lin + rest
    return out if out.ndim else out[()]


def _log_ratio_cosine(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """K(2a) - 2 K(a), K = log-MGF of the cosine law, without cancellation at large a."""
    lin2, rest2 = _log_mgf_cosine_split(2.0 * a, d)
    lin1, rest1 = _log_mgf_cosine_split(a, d)
    return (lin2 - 2.0 * lin1) + (rest2 - 2.0 * rest1)


def plugin_collision_cosine(alpha: Any, n: Any, d: Any) -> np.ndarray:
    """Plug-in (4) of notebook 02 for cosine scores (eq. (7)): E[e^{2 alpha s}] / (n E[e^{alpha s}]^2).

    Raises: ValueError/TypeError naming ``alpha``, ``n`` (>= 2) or ``d`` (>= 2).
    """
    a = np.abs(_v.real_array(alpha, "alpha"))
    n_arr = _count(n)
    d = _v.real_array(d, "d", low=2.0, high=_MAX_D)
    with np.errstate(over="ignore"):
        out = np.exp(_log_ratio_cosine(a, d)) / n_arr
    return out if out.ndim else out[()]


def plugin_objective_cosine(alpha: Any, n: Any, d: Any) -> np.ndarray:
    """alpha (1 - E[e^{2 alpha s}] / (n E[e^{alpha s}]^2)) for cosine scores in R^d: the
    objective of Step 9 of notebook 02 (eq. (3) after the plug-in (4), density (7)).

    Raises: ValueError/TypeError naming ``alpha``, ``n`` or ``d``.
    """
    a = _v.real_array(alpha, "alpha")
    return a * (1.0 - plugin_collision_cosine(a, n, d))


def alpha_star_cosine(n: Any, d: Any, xatol: float = 1e-10) -> np.ndarray:
    """Maximiser of :func:`plugin_objective_cosine` for each n (and d), by bracketing and a
    golden-section search, vectorised over (n, d) (Step 9 of notebook 02). ``xatol`` is the
    tolerance relative to the bracket (0 < xatol < 1).

    The log-ratio K(2a) - 2K(a) (K = log-MGF) increases in a, so the objective is positive
    exactly on (0, a0) with K(2 a0) - 2K(a0) = log n; a0 is found by doubling and bisection, and
    the search runs over (0, a0), where the objective is unimodal.
    Raises: ValueError/TypeError naming ``n`` (>= 2), ``d`` (>= 2) or ``xatol``.
    """
    tol = _v.real_scalar(xatol, "xatol", low=0.0, high=1.0, low_open=True, high_open=True)
    n_arr, d_arr = np.broadcast_arrays(_count(n), _v.real_array(d, "d", low=2.0, high=_MAX_D))
    if n_arr.size > 10**6:
        raise ValueError(f"n: at most 1e6 (n, d) pairs per call, got {n_arr.size}")
    shape = n_arr.shape
    logn, dd = np.log(n_arr.ravel()), d_arr.ravel().astype(float)

    def excess(a):
        return _log_ratio_cosine(a, dd) - logn

    hi = np.ones(logn.shape)
    for _ in range(1100):  # doubling: excess(hi) >= 0 for every entry
        low = excess(hi) < 0
        if not low.any():
            break
        hi[low] *= 2.0
    else:
        raise ValueError("n: no bracket found")
    lo = np.where(hi > 1.0, hi / 2.0, 0.0)
    for _ in range(200):  # bisection for a0 to a relative 1e-14
        if np.all(hi - lo <= 1e-14 * hi):
            break
        mid = 0.5 * (lo + hi)
        neg = excess(mid) < 0
        lo, hi = np.where(neg, mid, lo), np.where(neg, hi, mid)
    a0 = hi

    def objective(a):
        with np.errstate(over="ignore"):
            return a * (1.0 - np.exp(_log_ratio_cosine(a, dd) - logn))

    g = (math.sqrt(5.0) - 1.0) / 2.0
    left, right = np.zeros(a0.shape), a0.copy()
    x1, x2 = right - g * (right - left), left + g * (right - left)
    f1, f2 = objective(x1), objective(x2)
    stop = tol * np.maximum(1.0, a0)
    for _ in range(2000):  # golden section: the bracket shrinks by 0.618 per step
        if np.all(right - left <= stop):
            break
        up = f1 > f2  # the maximum lies in [left, x2]
        right, left = np.where(up, x2, right), np.where(up, left, x1)
        new = np.where(up, right - g * (right - left), left + g * (right - left))
        f_new = objective(new)
        x1, x2, f1, f2 = (np.where(up, new, x2), np.where(up, x1, new),
                          np.where(up, f_new, f2), np.where(up, f1, f_new))
    out = (0.5 * (left + right)).reshape(shape)
    return out if out.ndim else out[()]


def mean_limit_normal(n: int) -> float:
    """lim_{alpha->inf} E[alpha (1 - sum p^2)] for n i.i.d. N(0,1) scores (Step 11 of notebook 02).

    Equals the density at 0 of the gap between the two largest scores,
    f_g(0) = n(n-1) int phi(x)^2 Phi(x)^(n-2) dx (a near-tie of the top two keeps the gradient alive).
    Raises: TypeError/ValueError naming ``n`` (an integer, 2 <= n <= 1e9).
    """
    from scipy import integrate as _spi
    from scipy import special as _sps

    n = _v.size(n, "n", low=2, high=10**9)

    def integrand(x):
        return np.exp(-x * x + (n - 2) * _sps.log_ndtr(x)) / (2 * np.pi)

    val, _ = _spi.quad(integrand, -12.0, 12.0, epsabs=0.0, epsrel=1e-11, limit=200)
    return n * (n - 1) * val


def mean_gradient_size_normal(alpha: Any, n: int) -> np.ndarray:
    """Exact E[alpha (1 - sum p^2)] over n i.i.d. N(0,1) scores (no plug-in), by 2-D quadrature
    (Step 11 of notebook 02).

    1 - sum p^2 = sum_{i != j} p_i p_j; with 1/Z^2 = int_0^inf t e^{-tZ} dt, t = e^{-alpha u}:
    E = n(n-1) int B(u)^2 M(u)^(n-2) du, where B(u) = int phi(u + w/alpha) e^{w - e^w} dw and
    M(u) = Phi(u) + (1/alpha) int phi(u + w/alpha) (e^{-e^w} - [w < 0]) dw. Accurate to ~1e-12
    for alpha >= 0.5 (Gauss-Legendre in w, trapezoid in u); alpha -> inf gives mean_limit_normal.
    Raises: ValueError/TypeError naming ``alpha`` (>= 0.5; at most 1e5 values) or ``n``
    (an integer, 2 <= n <= 1e9).
    """
    from scipy import special as _sps

    a = _v.real_array(alpha, "alpha")
    if np.any(a < 0.5):
        raise ValueError("alpha: expected scales >= 0.5 (below, use the plug-in: it is exact there)")
    if a.size > 10**5:
        raise ValueError(f"alpha: at most 1e5 scales per call, got {a.size}")
    n = _v.size(n, "n", low=2, high=10**9)
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


def _generator(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _shape(size: Any) -> tuple[int, ...]:
    if isinstance(size, (tuple, list)):
        if len(size) > 32:
            raise ValueError(f"size: at most 32 dimensions, got {len(size)}")
        return tuple(_v.size(k, "size", low=0) for k in size)
    return (_v.size(size, "size", low=0),)


def sample_scores(rng: np.random.Generator, size: Any, law: _ScoreLaw = "normal",
                  d: int | None = None) -> np.ndarray:
    """i.i.d. scores of the given shape: N(0, 1) (Steps 4-7 of notebook 02), or the cosine of two
    uniform directions in R^d, s = 2 B - 1 with B ~ Beta((d-1)/2, (d-1)/2) (exact; density
    eq. (7)).

    Raises: TypeError naming ``rng``; ValueError/TypeError naming ``size`` (non-negative
    integers; memory budget), ``law`` or ``d`` (an integer >= 2, only with law='cosine').
    """
    rng = _generator(rng)
    shape = _shape(size)
    law = _v.choice(law, "law", ("normal", "cosine"))
    if law == "normal" and d is not None:
        raise ValueError("d: only used with law='cosine'")
    if law == "cosine":
        if d is None:
            raise ValueError("d: expected an integer dimension >= 2 for cosine scores, got None")
        d = _v.size(d, "d", low=2, high=_MAX_D)
    _v.check_memory(8.0 * math.prod(shape), "size")
    if law == "normal":
        return rng.standard_normal(shape)
    h = (d - 1) / 2.0
    return 2.0 * rng.beta(h, h, shape) - 1.0


def monte_carlo(
    alphas: Any,
    n: int,
    repeats: int,
    rng: np.random.Generator,
    law: _ScoreLaw = "normal",
    d: int | None = None,
    statistic: _Statistic = "gradient_size",
) -> np.ndarray:
    """Exact per-sample values of a softmax statistic at each alpha, shape (len(alphas), repeats)
    (Steps 10-16 of notebook 02: the true objective (3) without the plug-in (4)).

    Draws ``repeats`` score vectors of length ``n`` once and reuses them for every alpha (common
    random numbers: curves in alpha are smooth and their argmax is less noisy). statistic is
    ``gradient_size`` (eq. (3)), ``collision`` (sum p^2) or ``entropy`` (Shannon, nats).
    Raises: ValueError/TypeError naming ``alphas`` (1-D, >= 0), ``n`` (>= 2), ``repeats`` (>= 1),
    ``rng``, ``law``, ``d`` or ``statistic``; ValueError if the samples exceed the memory budget.
    """
    a = _v.real_array(alphas, "alphas", ndim=1, low=0.0)
    n = _v.size(n, "n", low=2, high=_MAX_KEYS)
    repeats = _v.size(repeats, "repeats", low=1, high=10**9)
    rng = _generator(rng)
    law = _v.choice(law, "law", ("normal", "cosine"))
    statistic = _v.choice(statistic, "statistic", ("gradient_size", "collision", "entropy"))
    _v.check_memory(8.0 * repeats * (n + a.size), "repeats")
    s = sample_scores(rng, (repeats, n), law, d)
    top = np.argmax(s, axis=-1)[:, None]
    s -= np.take_along_axis(s, top, axis=-1)  # s <= 0 with s[top] = 0, so alpha*s is shifted too
    out = np.empty((a.size, repeats))
    rows = max(1, 2**18 // n)  # blocks of ~2 MB keep the temporaries in cache
    for lo in range(0, repeats, rows):
        blk, t = s[lo : lo + rows], top[lo : lo + rows]
        for k, ai in enumerate(a):
            with np.errstate(over="ignore"):
                x = ai * blk if ai > 0 else np.zeros_like(blk)
            out[k, lo : lo + rows] = _statistic(statistic, ai, x, t)
    return out


def plateau(alphas: Any, values: Any, level: float = 0.9) -> tuple[float, float, float]:
    """Where a curve sampled at increasing ``alphas`` stays above ``level`` x its maximum
    (Step 12 of notebook 02).

    Returns (low, high, centre): the two crossings, interpolated linearly in log alpha, and their
    geometric mean. A flat-topped Monte Carlo curve has a noisy argmax; these are far steadier.
    Raises: ValueError/TypeError naming ``alphas``/``values`` (equal-length 1-D, at least 3,
    alphas > 0 increasing, a positive maximum inside the grid) or ``level`` (in (0, 1)).
    """
    a = _v.real_array(alphas, "alphas", ndim=1)
    y = _v.real_array(values, "values", ndim=1)
    if a.shape != y.shape or a.size < 3 or np.any(a <= 0) or np.any(np.diff(a) <= 0):
        raise ValueError("alphas, values: expected equal-length 1-D arrays, alphas > 0 increasing")
    level = _v.real_scalar(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
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


# --- a trained model: synthetic retrieval with only the scale varied (notebook 02, section 7) ----


@dataclasses.dataclass(frozen=True)
class RetrievalRun:
    """One training run of :func:`train_retrieval`.

    ``eval_steps``: steps after which the held-out loss was measured; ``eval_loss``: that loss
    (relative to predicting 0, so 1 at the start of a blind model; ``inf`` once the run has
    diverged); ``grad_norm0``: the Frobenius norm of the loss gradient with respect to
    (W_q, W_k) at initialisation; ``auc``: the mean of ``eval_loss`` (area under the curve);
    ``final``: its last value.
    """

    eval_steps: np.ndarray
    eval_loss: np.ndarray
    grad_norm0: float
    auc: float
    final: float


def train_retrieval(
    alpha: float,
    n: int,
    seed: int,
    *,
    optimizer: _Optimizer = "sgd",
    lr: float | None = None,
    steps: int = 300,
    dim: int = 32,
    value_dim: int = 16,
    batch: int = 64,
    noise: float = 0.5,
    eval_every: int = 25,
    eval_contexts: int = 8,
) -> RetrievalRun:
    """Train one attention head on synthetic retrieval with the score scale alpha / sqrt(dim)
    fixed, and return its learning curve (section 7 of notebook 02, eq. (8)).

    Each step draws a context of ``n`` keys k_i ~ N(0, I_dim) with values v_i ~ N(0, I_value_dim)
    and ``batch`` queries q = k_t + noise * N(0, I) for random targets t. The head predicts
    o = sum_i softmax_i(alpha (W_q q) . (W_k k_i) / sqrt(dim)) v_i, loss |o - v_t|^2 / value_dim,
    with W_q, W_k (dim x dim) initialised N(0, 1/dim), so that alpha = 1 gives scores of about
    unit variance, as in the post. Only alpha varies between runs; ``optimizer`` 'sgd'
    (default lr 0.5) or 'adam' (default lr 1e-2). Float64 on the CPU, one generator
    ``numpy.random.default_rng(seed)`` for the initialisation and all data, so a run is
    reproducible. The held-out loss is measured every ``eval_every`` steps on
    ``eval_contexts`` fixed contexts.

    Raises: ValueError/TypeError naming the argument (``alpha`` >= 0, ``lr`` > 0, ``noise`` >= 0
    finite; sizes are integers with ceilings; ``eval_every`` <= ``steps``; memory budget).
    """
    import torch

    alpha = _v.real_scalar(alpha, "alpha", low=0.0)
    n = _v.size(n, "n", low=2, high=10**5)
    seed = _v.size(seed, "seed", low=0, high=2**63 - 1)
    optimizer = _v.choice(optimizer, "optimizer", ("sgd", "adam"))
    lr = {"sgd": 0.5, "adam": 1e-2}[optimizer] if lr is None else _v.real_scalar(
        lr, "lr", low=0.0, low_open=True)
    steps = _v.size(steps, "steps", low=1, high=10**6)
    dim = _v.size(dim, "dim", low=1, high=4096)
    value_dim = _v.size(value_dim, "value_dim", low=1, high=4096)
    batch = _v.size(batch, "batch", low=1, high=10**5)
    noise = _v.real_scalar(noise, "noise", low=0.0)
    eval_every = _v.size(eval_every, "eval_every", low=1, high=steps)
    eval_contexts = _v.size(eval_contexts, "eval_contexts", low=1, high=10**4)
    per_context = n * (2 * dim + value_dim) + batch * (2 * dim + n + value_dim)
    _v.check_memory(8.0 * 4 * per_context * (eval_contexts + 1), "n")

    rng = np.random.default_rng(seed)
    w_q = torch.tensor(rng.standard_normal((dim, dim)) / math.sqrt(dim), requires_grad=True)
    w_k = torch.tensor(rng.standard_normal((dim, dim)) / math.sqrt(dim), requires_grad=True)

    def context():
        k = rng.standard_normal((n, dim))
        v = rng.standard_normal((n, value_dim))
        t = rng.integers(0, n, batch)
        q = k[t] + noise * rng.standard_normal((batch, dim))
        return tuple(torch.from_numpy(x) for x in (q, k, v, t))

    held_out = [context() for _ in range(eval_contexts)]
    c = alpha / math.sqrt(dim)

    def loss(q, k, v, t):
        p = torch.softmax(c * (q @ w_q) @ (k @ w_k).T, dim=-1)
        return ((p @ v - v[t]) ** 2).sum(-1).mean() / value_dim

    opt = (torch.optim.SGD([w_q, w_k], lr=lr) if optimizer == "sgd"
           else torch.optim.Adam([w_q, w_k], lr=lr))
    evals, grad0, diverged = [], math.inf, False
    with np.errstate(all="ignore"):
        for step in range(1, steps + 1):
            if not diverged:
                value = loss(*context())
                opt.zero_grad()
                value.backward()
                if step == 1:
                    g = math.sqrt(float((w_q.grad**2).sum() + (w_k.grad**2).sum()))
                    grad0 = g if math.isfinite(g) else math.inf
                diverged = not math.isfinite(value.item())
                if not diverged:
                    opt.step()
            if step % eval_every == 0:
                if not diverged:
                    with torch.no_grad():
                        held = float(sum(loss(*b) for b in held_out)) / eval_contexts
                    diverged = not math.isfinite(held)
                evals.append(math.inf if diverged else held)
    curve = np.array(evals)
    return RetrievalRun(eval_steps=eval_every * np.arange(1, curve.size + 1), eval_loss=curve,
                        grad_norm0=grad0, auc=float(curve.mean()), final=float(curve[-1]))
