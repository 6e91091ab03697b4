"""Can attention really focus? (notebook 03; post kexue.fm/archives/9889).

The sparsity index S(x) = E|x| / sqrt(E x^2) of the post (introduced in post 9595), its closed
forms for attention rows a_j ∝ f(q·k_j) with Gaussian keys (n -> infinity), the exact formula for
non-negative linear attention, linear decay, Taylor features of exp, finite-n softmax rows, and a
small trained associative-recall model. "Section k" below is the section of notebook 03.
Conventions: beta = q·mu and gamma = sigma*||q|| absorb any 1/sqrt(d) temperature; t = beta/gamma.

Validation: every public argument goes through :mod:`helpers._validate` (real floats only, no
NaN/inf, sizes via ``operator.index`` with ceilings, memory checked before large allocations);
errors are ValueError/TypeError naming the argument.
Torch rule: the numpy functions take torch tensors and convert them with ``.detach()`` (results
are numpy or Python floats); :func:`train_recall` builds its own float32 CPU tensors and returns
Python floats. scipy.integrate and torch are imported inside the functions that use them.
"""

from __future__ import annotations

import itertools as _itertools
import math as _math
import operator as _operator
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from scipy import special as _special

from helpers import _validate as _v

__all__ = [
    "sparsity",
    "sparsity_bounds",
    "sparsity_mc",
    "gaussian_expectation",
    "sparsity_gaussian",
    "sparsity_exp",
    "relu_moment",
    "sparsity_relu_power",
    "sparsity_relu2",
    "sparsity_relu2_erf",
    "sparsity_identity",
    "sparsity_general_linear",
    "sparsity_iid_linear",
    "sparsity_linear_decay",
    "linear_decay_bound",
    "effective_tokens",
    "elu_plus_one",
    "positive_random_features",
    "taylor_exp",
    "taylor_features",
    "causal_softmax_attention",
    "linear_attention_weights",
    "softmax_row_neff",
    "train_recall",
]

_SQRT_2PI = _math.sqrt(2.0 * _math.pi)
_MAX_MOMENT = 100  # k: ceiling on the order of relu moments (k! stays a float)
_MAX_POWER = 50  # power: relu^p needs the moment of order 2p
_MAX_TAYLOR_ORDER = 170  # order: 1/p! is representable up to 170
_MAX_TAYLOR_FEATURES = 10**6  # C(d + P, P): built one tuple at a time in Python
_MAX_HALF_WIDTH = 100.0  # the normal density beyond 40 is below 1e-347 already
_T_CLIP = 1e8  # |t| beyond this: S is 0 or 1 to double precision
_MAX_TOKENS = 10**8  # n: ceiling on the length of one softmax row
_AttentionKind = Literal["softmax", "linear"]


def _unwrap(arr: np.ndarray) -> float | np.ndarray:
    """A 0-d result as a Python float, anything else unchanged."""
    return float(arr) if np.ndim(arr) == 0 else arr


def _axis(axis: Any, ndim: int) -> int:
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError("axis: expected an int, got bool")
    try:
        a = _operator.index(axis)
    except TypeError:
        raise TypeError(f"axis: expected an int, got {type(axis).__name__}") from None
    if not -ndim <= a < ndim:
        raise ValueError(f"axis: {a} is out of range for an array with {ndim} axes")
    return a


def _beta_gamma(beta: Any, gamma: Any) -> tuple[np.ndarray, np.ndarray]:
    b = _v.real_array(beta, "beta")
    g = _v.real_array(gamma, "gamma", low=0.0, low_open=True)
    try:
        return np.broadcast_arrays(b, g)
    except ValueError:
        raise ValueError(f"beta, gamma: shapes {b.shape} and {g.shape} do not broadcast") from None


def _t(b: np.ndarray, g: np.ndarray) -> np.ndarray:
    """t = beta/gamma, clipped to +-1e8 (beyond, every S here is 0 or 1 in double precision)."""
    with np.errstate(over="ignore"):
        return np.clip(b / g, -_T_CLIP, _T_CLIP)


# --- the sparsity index -----------------------------------------------------------------------


def sparsity(x: Any, axis: int = -1) -> float | np.ndarray:
    """Sparsity index S(x) = mean|x| / sqrt(mean x^2) along ``axis`` (post eq. 1; section 2.1).

    Equals ||x||_1 / (sqrt(n) ||x||_2), lies in [1/sqrt(n), 1]: 1/sqrt(n) for a single non-zero
    entry, 1 when all |x_i| are equal; invariant to positive scaling and to signs. Computed after
    dividing by max|x|, so squares neither overflow nor underflow.
    Returns a float for a 1-D input, else an array with ``axis`` removed.

    Raises:
        TypeError: x not real numbers, axis not an int. ValueError: NaN/inf, a scalar, an
        empty reduced axis, an all-zero vector (0/0), axis out of range.
    """
    arr = _v.real_array(x, "x", min_ndim=1)
    ax = _axis(axis, arr.ndim)
    if arr.shape[ax] == 0:
        raise ValueError("x: the reduced axis is empty")
    a = np.abs(arr)
    top = a.max(axis=ax, keepdims=True)
    if np.any(top == 0):
        raise ValueError("x: S is undefined for an all-zero vector (0/0)")
    a = a / top
    return _unwrap(a.mean(axis=ax) / np.sqrt((a * a).mean(axis=ax)))


def sparsity_bounds(n: int) -> tuple[float, float]:
    """The range [1/sqrt(n), 1] of S over non-zero vectors of length n (section 2.1).

    Raises:
        TypeError: n not an integer. ValueError: n < 1.
    """
    m = _v.size(n, "n")
    return 1.0 / _math.sqrt(m), 1.0


def sparsity_mc(samples: Any) -> tuple[float, float]:
    """Monte Carlo estimate of S = E|X| / sqrt(E X^2) from i.i.d. samples, with its standard
    error (sections 2.3 and 3.1).

    The error comes from the delta method on the two sample means (|X|, X^2); it is honest only
    when E X^4 is finite and well sampled (not the case for lognormal tails at large gamma).

    Raises:
        TypeError: samples not real numbers. ValueError: NaN/inf, not 1-D, fewer than 2
        samples, all zero.
    """
    y = _v.real_array(samples, "samples", ndim=1)
    if y.size < 2:
        raise ValueError(f"samples: expected at least 2 samples, got {y.size}")
    a = np.abs(y)
    top = a.max()
    if top == 0:
        raise ValueError("samples: all zero, S is undefined")
    a = a / top
    m1, m2 = a.mean(), (a * a).mean()
    grad = np.array([1.0 / np.sqrt(m2), -m1 / (2.0 * m2**1.5)])
    cov = np.cov(np.stack([a, a * a]))
    return float(m1 / np.sqrt(m2)), float(np.sqrt(max(grad @ cov @ grad, 0.0) / a.size))


# --- Gaussian reduction: numerical integration and closed forms -------------------------------


def gaussian_expectation(
    g: Callable[[float], float],
    beta: float,
    gamma: float,
    *,
    kinks: Sequence[float] | np.ndarray = (),
    half_width: float = 40.0,
    epsrel: float = 1e-11,
    epsabs: float = 1e-13,
) -> float:
    """E[g(beta + gamma*eps)], eps ~ N(0, 1), by ``scipy.integrate.quad`` (section 2.3).

    Integrates over eps in [-half_width, half_width] (at most 100: the normal density beyond 40
    is below 1e-347), split every 2.5 units and at the ``kinks`` (points x where g is not smooth,
    in the argument of g). Stops when the error estimate is below max(epsabs, epsrel * |value|).

    Raises:
        TypeError: g not callable, a number of the wrong kind. ValueError: NaN/inf, gamma <= 0,
        half_width outside (0, 100], tolerances <= 0, g overflowing or non-finite on the range.
    """
    from scipy import integrate

    if not callable(g):
        raise TypeError(f"g: expected a callable of one float, got {type(g).__name__}")
    b = _v.real_scalar(beta, "beta")
    gm = _v.real_scalar(gamma, "gamma", low=0.0, low_open=True)
    hw = _v.real_scalar(half_width, "half_width", low=0.0, low_open=True, high=_MAX_HALF_WIDTH)
    rel = _v.real_scalar(epsrel, "epsrel", low=0.0, low_open=True)
    absol = _v.real_scalar(epsabs, "epsabs", low=0.0, low_open=True)
    ks = _v.real_array(kinks, "kinks", ndim=(0, 1))
    with np.errstate(over="ignore"):
        z_kinks = [(float(k) - b) / gm for k in np.atleast_1d(ks)]
    grid = np.linspace(-hw, hw, int(np.ceil(2 * hw / 2.5)) + 1)
    points = sorted({float(z) for z in [*grid[1:-1], *z_kinks] if -hw < z < hw})

    def integrand(z: float) -> float:
        return g(b + gm * z) * _math.exp(-0.5 * z * z) / _SQRT_2PI

    try:
        value, _ = integrate.quad(integrand, -hw, hw, points=points, limit=50 * (len(points) + 1),
                                  epsabs=absol, epsrel=rel)
    except (OverflowError, ZeroDivisionError) as err:
        raise ValueError(f"g, beta, gamma: g(beta + gamma*eps) failed on the range ({err})") from None
    except TypeError as err:
        raise TypeError(f"g: expected a callable returning a real number ({err})") from None
    if not _math.isfinite(value):
        raise ValueError("g, beta, gamma: the expectation is not finite in double precision")
    return float(value)


def sparsity_gaussian(
    f: Callable[[float], float], beta: float, gamma: float, *,
    kinks: Sequence[float] | np.ndarray = (),
) -> float:
    """S of an attention row a_j ∝ f(q·k_j) with keys k ~ N(mu, sigma^2 I), n -> infinity:
    E|f(beta + gamma*eps)| / sqrt(E f^2(beta + gamma*eps)) by numerical integration (post eq. 4;
    section 2.3).

    Raises:
        TypeError: f not callable. ValueError: as :func:`gaussian_expectation`, or f vanishing
        almost surely (0/0).
    """
    if not callable(f):
        raise TypeError(f"f: expected a callable of one float, got {type(f).__name__}")
    m1 = gaussian_expectation(lambda x: abs(f(x)), beta, gamma, kinks=kinks)
    m2 = gaussian_expectation(lambda x: f(x) ** 2, beta, gamma, kinks=kinks)
    if m2 <= 0:
        raise ValueError("f: f(beta + gamma*eps) vanishes almost surely, S is undefined")
    return m1 / _math.sqrt(m2)


def sparsity_exp(beta: Any, gamma: Any) -> float | np.ndarray:
    """Softmax attention, f = exp: S = exp(-gamma^2 / 2) for every beta (post eq. 5; section 3.1).

    Raises:
        TypeError: not real numbers. ValueError: NaN/inf, gamma <= 0, shapes that do not broadcast.
    """
    b, g = _beta_gamma(beta, gamma)
    with np.errstate(over="ignore", under="ignore"):
        return _unwrap(np.exp(-0.5 * g * g) * np.ones_like(b))


def _order(k: Any, name: str, high: int) -> int:
    return _v.size(k, name, low=0, high=high)


def _relu_moment_scaled(t: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(E relu(t + eps)^k / s^k, s) with s = max(1, t): no overflow for large t."""
    fact = float(_math.factorial(k))
    neg = t < 0
    s = np.where(neg, 1.0, np.maximum(t, 1.0))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        # t < 0: k! exp(-t^2/4) D_{-k-1}(-t) / sqrt(2 pi); below t = -40 it underflows to 0
        tn = np.where(neg & (t > -40.0), t, -1.0)
        left = fact * np.exp(-0.25 * tn * tn) * _special.pbdv(-k - 1.0, -tn)[0] / _SQRT_2PI
        left = np.where(t > -40.0, left, 0.0)
        # t >= 0: the full moment E (t + eps)^k (only the even moments (j-1)!! of eps survive)
        # minus the negative part, both divided by s^k
        tp = np.where(neg, 1.0, t)
        inv = 1.0 / s
        full = np.zeros_like(t)
        for j in range(0, k + 1, 2):
            full = full + (_math.comb(k, j) * _math.prod(range(j - 1, 0, -2))) * (tp * inv) ** (k - j) * inv**j
        tl = np.where(tp < 40.0, tp, 1.0)
        lower = fact * np.exp(-0.25 * tl * tl) * _special.pbdv(-k - 1.0, tl)[0] / _SQRT_2PI
        lower = np.where(tp < 40.0, lower, 0.0) * inv**k
        right = full - (-1) ** k * lower
    return np.where(neg, left, right), s


def relu_moment(t: Any, k: int) -> float | np.ndarray:
    """E[relu(t + eps)^k], eps ~ N(0, 1) (section 3.2): k! exp(-t^2/4) D_{-k-1}(-t) / sqrt(2 pi)
    for t < 0, with D the parabolic-cylinder function (``scipy.special.pbdv``); for t >= 0 the
    full moment minus the (small) negative part, so neither side cancels catastrophically.
    k <= 100; below t = -40 the moment underflows to 0.

    Raises:
        TypeError: t not real numbers, k not an integer. ValueError: NaN/inf, k outside
        [0, 100], a moment beyond the float range.
    """
    kk = _order(k, "k", _MAX_MOMENT)
    ta = _v.real_array(t, "t")
    scaled, s = _relu_moment_scaled(ta, kk)
    with np.errstate(over="ignore"):
        out = scaled * s**kk
    if not np.all(np.isfinite(out)):
        raise ValueError(f"t, k: E relu(t + eps)^{kk} exceeds the float range for t = {ta.max():g}")
    return _unwrap(out)


def sparsity_relu_power(beta: Any, gamma: Any, power: int = 2) -> float | np.ndarray:
    """S for f = relu^p (p = 2: GAU/FLASH, post eq. 6; section 3.2): E relu^p / sqrt(E relu^2p)
    at t = beta/gamma.

    Depends on t only (relu^p is homogeneous). For t < 0 it is evaluated as
    p!/sqrt((2p)!) (2 pi)^(-1/4) exp(-t^2/8) D_{-p-1}(-t) / sqrt(D_{-2p-1}(-t)), accurate to
    ~1e-15 down to t = -40; below that ``pbdv`` underflows and the (< 1e-170) S is returned as 0.
    p <= 50.

    Raises:
        TypeError: not real numbers, power not an integer. ValueError: NaN/inf, gamma <= 0,
        power outside [1, 50], shapes that do not broadcast.
    """
    p = _order(power, "power", _MAX_POWER)
    if p == 0:
        raise ValueError("power: expected p >= 1 (p = 0 is a constant row)")
    b, g = _beta_gamma(beta, gamma)
    t = _t(b, g)
    neg = t < 0
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        tn = np.where(neg, t, -1.0)
        num = _special.pbdv(-p - 1.0, -tn)[0]
        den = _special.pbdv(-2.0 * p - 1.0, -tn)[0]
        const = _math.exp(_math.lgamma(p + 1) - 0.5 * _math.lgamma(2 * p + 1)) / _SQRT_2PI**0.5
        ok = (den > 0) & np.isfinite(num) & np.isfinite(den)
        s_neg = np.where(ok, const * np.exp(-0.125 * tn * tn) * num / np.sqrt(np.where(ok, den, 1.0)), 0.0)
        tp = np.where(neg, 1.0, t)
        m_p, _ = _relu_moment_scaled(tp, p)
        m_2p, _ = _relu_moment_scaled(tp, 2 * p)
        s_pos = m_p / np.sqrt(m_2p)  # the s^p factors cancel
    return _unwrap(np.where(neg, s_neg, s_pos))


def sparsity_relu2(beta: Any, gamma: Any) -> float | np.ndarray:
    """S for GAU's f = relu^2 (post eq. 6; section 3.2); equals
    ((t^2+1) Phi + t phi) / sqrt((t^4+6t^2+3) Phi + (t^3+5t) phi) at t = beta/gamma.

    Raises:
        As :func:`sparsity_relu_power`.
    """
    return sparsity_relu_power(beta, gamma, 2)


def sparsity_relu2_erf(beta: Any, gamma: Any) -> float | np.ndarray:
    """The relu^2 closed form exactly as printed in the post (erf and exp(beta^2/2gamma^2);
    section 3.2).

    Kept to show its numerics: erf(t/sqrt 2) + 1 loses its digits as t decreases (1e-5 relative
    error at t = -6, more than 100% at t = -7, NaN at t = -8), and exp(beta^2/2gamma^2) overflows
    for |t| > ~37. NaN is the documented output there. Use :func:`sparsity_relu2` instead.

    Raises:
        TypeError: not real numbers. ValueError: NaN/inf, gamma <= 0, shapes that do not broadcast.
    """
    b, g = _beta_gamma(beta, gamma)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        e = _special.erf(b / (_math.sqrt(2.0) * g)) + 1.0
        w = np.exp(-b * b / (2 * g * g))
        num = w * (_math.sqrt(2.0) * b * g + _math.sqrt(_math.pi) / w * (b * b + g * g) * e)
        den = _math.pi**0.25 * np.sqrt(
            2 * _math.sqrt(2.0) * b * g * w * (b * b + 5 * g * g)
            + 2 * _math.sqrt(_math.pi) * (b**4 + 6 * b * b * g * g + 3 * g**4) * e
        )
        return _unwrap(num / den)


def sparsity_identity(beta: Any, gamma: Any) -> float | np.ndarray:
    """Simplest linear attention, f = identity (signed weights), post eq. 7 (section 3.3):
    S = (sqrt(2/pi) exp(-t^2/2) + t erf(t/sqrt 2)) / sqrt(1 + t^2), t = beta/gamma.
    Even in beta; minimum sqrt(2/pi) at beta = 0.

    Raises:
        TypeError: not real numbers. ValueError: NaN/inf, gamma <= 0, shapes that do not broadcast.
    """
    b, g = _beta_gamma(beta, gamma)
    t = _t(b, g)
    with np.errstate(under="ignore"):
        folded = _math.sqrt(2.0 / _math.pi) * np.exp(-0.5 * t * t) + t * _special.erf(t / _math.sqrt(2.0))
    return _unwrap(folded / np.hypot(1.0, t))


# --- non-negative linear attention ------------------------------------------------------------


def sparsity_general_linear(q_feat: Any, key_mean: Any, key_cov: Any) -> float | np.ndarray:
    """Non-negative linear attention a_j ∝ q~·k~_j (post eq. 8; section 3.4), exact for any key
    sequence: S = 1 / sqrt(1 + q~' Sigma q~ / (q~' mu)^2) with mu, Sigma the mean and (1/n)
    covariance of the k~_j. ``q_feat`` may carry leading batch axes (..., d). S is invariant to
    scaling q~ and the keys, so both are scaled to max 1 first (no overflow).

    Raises:
        TypeError: not real numbers. ValueError: NaN/inf, shapes, negative features, an
        asymmetric or (along q~) indefinite covariance, q~·mu = 0.
    """
    q = _v.real_array(q_feat, "q_feat", min_ndim=1, allow_empty=False)
    mu = _v.real_array(key_mean, "key_mean", ndim=1, allow_empty=False)
    cov = _v.real_array(key_cov, "key_cov", ndim=2)
    if q.shape[-1] != mu.shape[0]:
        raise ValueError(f"q_feat, key_mean: expected shapes (..., d) and (d,), got {q.shape}, {mu.shape}")
    d = mu.shape[0]
    if cov.shape != (d, d):
        raise ValueError(f"key_cov: expected shape ({d}, {d}), got {cov.shape}")
    if np.any(q < 0):
        raise ValueError("q_feat: non-negative features expected (a_j >= 0)")
    if np.any(mu < 0):
        raise ValueError("key_mean: non-negative features expected (a_j >= 0)")
    top_q = q.max(axis=-1, keepdims=True)
    top_mu = mu.max()
    if np.any(top_q == 0) or top_mu == 0:
        raise ValueError("q_feat, key_mean: q~·mu = 0, every weight is zero and S is undefined")
    q = q / top_q
    mu = mu / top_mu
    with np.errstate(under="ignore"):
        cov = cov / top_mu / top_mu
    scale = max(1.0, float(np.abs(cov).max()))
    if not np.allclose(cov / scale, cov.T / scale, rtol=1e-10, atol=1e-12):
        raise ValueError("key_cov: expected a symmetric matrix")
    signal = q @ mu
    if np.any(signal <= 0):
        raise ValueError("q_feat, key_mean: q~·mu = 0, every weight is zero and S is undefined")
    spread = np.einsum("...i,ij,...j->...", q, cov / scale, q)
    if np.any(spread < -1e-12 * signal**2 / scale):
        raise ValueError("key_cov: not positive semi-definite along q_feat")
    with np.errstate(over="ignore"):
        ratio = np.maximum(spread, 0.0) / (signal**2) * scale
    return _unwrap(1.0 / np.sqrt(1.0 + ratio))


def sparsity_iid_linear(q_feat: Any, cv: Any) -> float | np.ndarray:
    """The i.i.d.-feature case of :func:`sparsity_general_linear` (post eq. 9; section 3.5):
    S = 1 / sqrt(1 + (cv * ||q~||_2 / ||q~||_1)^2), cv = sigma~/mu~ of one key feature.
    Note ||q~||_2/||q~||_1 lies in [1/sqrt(d), 1] (section 4).

    Raises:
        TypeError: not real numbers. ValueError: NaN/inf, q_feat not (..., d) or negative or
        zero, cv < 0, shapes that do not broadcast.
    """
    q = _v.real_array(q_feat, "q_feat", min_ndim=1)
    if q.shape[-1] == 0:
        raise ValueError("q_feat: expected vectors (..., d) with d >= 1")
    c = _v.real_array(cv, "cv", low=0.0)
    if np.any(q < 0):
        raise ValueError("q_feat: non-negative features expected")
    top = q.max(axis=-1, keepdims=True)
    if np.any(top == 0):
        raise ValueError("q_feat: the zero vector gives no attention at all")
    q = q / top
    ratio = np.linalg.norm(q, axis=-1) / q.sum(axis=-1)
    try:
        c, ratio = np.broadcast_arrays(c, ratio)
    except ValueError:
        raise ValueError(f"q_feat, cv: shapes {q.shape[:-1]} and {c.shape} do not broadcast") from None
    with np.errstate(over="ignore"):
        return _unwrap(1.0 / np.sqrt(1.0 + (c * ratio) ** 2))


# --- linear decay -----------------------------------------------------------------------------


def _decay_args(lam: Any, n: Any) -> tuple[np.ndarray, np.ndarray]:
    lam_arr = _v.real_array(lam, "lam", low=0.0, low_open=True, high=1.0)
    if isinstance(n, (bool, np.bool_)):
        raise TypeError("n: expected integers, got bool")
    if _v.is_tensor(n):
        n = n.detach().cpu().numpy()
    try:
        n_arr = np.asarray(n)
    except (TypeError, ValueError) as err:
        raise TypeError(f"n: expected integers ({err})") from None
    if not np.issubdtype(n_arr.dtype, np.integer):
        raise TypeError(f"n: expected integers, got dtype {n_arr.dtype}")
    if np.any(n_arr < 1):
        raise ValueError("n: expected a sequence length n >= 1")
    try:
        return np.broadcast_arrays(lam_arr, n_arr.astype(float))
    except ValueError:
        raise ValueError(f"lam, n: shapes {lam_arr.shape} and {n_arr.shape} do not broadcast") from None


def sparsity_linear_decay(lam: Any, n: Any) -> float | np.ndarray:
    """S of the fixed linear-RNN row (lam^(n-1), ..., lam, 1) (post eq. 11; section 3.6):
    sqrt((1 - lam^n)(1 + lam) / (n (1 - lam)(1 + lam^n))); equals 1 at lam = 1.

    Raises:
        TypeError: lam not real, n not integers. ValueError: lam outside (0, 1], n < 1, NaN/inf.
    """
    lam_arr, n_arr = _decay_args(lam, n)
    log_lam = np.log(lam_arr)
    with np.errstate(invalid="ignore", divide="ignore", under="ignore", over="ignore"):
        geo = np.where(lam_arr < 1, np.expm1(n_arr * log_lam) / np.expm1(log_lam), n_arr)
        s2 = geo / n_arr * (1.0 + lam_arr) / (1.0 + lam_arr**n_arr)
    return _unwrap(np.sqrt(s2))


def linear_decay_bound(lam: Any, n: Any) -> float | np.ndarray:
    """The post's upper bound sqrt((1 + lam) / (n (1 - lam)(1 + lam^n))) (section 3.6; inf at
    lam = 1, where the bound says nothing).

    Raises:
        As :func:`sparsity_linear_decay`.
    """
    lam_arr, n_arr = _decay_args(lam, n)
    with np.errstate(divide="ignore", under="ignore"):
        return _unwrap(np.sqrt((1 + lam_arr) / (n_arr * (1 - lam_arr) * (1 + lam_arr**n_arr))))


def effective_tokens(p: Any, axis: int = -1) -> float | np.ndarray:
    """N_eff = 1 / sum p_i^2 = exp(Renyi-2 entropy) of probability vectors along ``axis``;
    S(p)^2 = N_eff / n (section 2.2).

    Raises:
        TypeError: p not real, axis not an int. ValueError: NaN/inf, empty, entries outside
        [0, 1] or not summing to 1 (to 1e-9), axis out of range.
    """
    arr = _v.real_array(p, "p", min_ndim=1, low=0.0, high=1.0)
    ax = _axis(axis, arr.ndim)
    if arr.shape[ax] == 0 or arr.size == 0:
        raise ValueError("p: expected a non-empty probability vector")
    if not np.allclose(arr.sum(axis=ax), 1.0, rtol=0, atol=1e-9):
        raise ValueError(f"p: expected non-negative entries summing to 1 along axis {ax}")
    return _unwrap(1.0 / (arr * arr).sum(axis=ax))


# --- feature maps and attention matrices ------------------------------------------------------


def elu_plus_one(x: Any) -> np.ndarray:
    """The feature map elu(x) + 1 of Katharopoulos et al. (2020; sections 1.1 and 5.1):
    x + 1 for x > 0, exp(x) else.

    Raises:
        TypeError: not real numbers. ValueError: NaN/inf.
    """
    arr = _v.real_array(x, "x")
    with np.errstate(under="ignore"):
        return np.where(arr > 0, arr + 1.0, np.exp(np.minimum(arr, 0.0)))


def positive_random_features(x: Any, w: Any) -> np.ndarray:
    """Performer's positive random features phi(x) = exp(W x - ||x||^2/2) / sqrt(m), W: (m, d)
    (sections 3.4 and 5.3); E_W phi(x)·phi(y) = exp(x·y) when the rows of W are N(0, I).

    Raises:
        TypeError: not real numbers. ValueError: NaN/inf, shapes, features beyond the float range.
    """
    xa = _v.real_array(x, "x", min_ndim=1)
    wa = _v.real_array(w, "w", ndim=2)
    if xa.shape[-1] != wa.shape[1] or wa.shape[0] == 0:
        raise ValueError(f"x, w: expected shapes (..., d) and (m, d) with m >= 1, got {xa.shape}, {wa.shape}")
    _v.check_memory(8.0 * (xa.size // max(xa.shape[-1], 1)) * wa.shape[0], "x")
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        out = np.exp(xa @ wa.T - 0.5 * (xa * xa).sum(-1, keepdims=True)) / _math.sqrt(wa.shape[0])
    if not np.all(np.isfinite(out)):
        raise ValueError("x, w: the features exceed the float range (scale x or w down)")
    return out


def taylor_exp(s: Any, order: int) -> float | np.ndarray:
    """T_P(s) = sum_{p <= P} s^p / p!, the kernel of Taylor-feature linear attention (section
    5.2); > 0 for even P. order <= 170.

    Raises:
        TypeError: s not real, order not an integer. ValueError: NaN/inf, order outside
        [0, 170], a value beyond the float range.
    """
    P = _order(order, "order", _MAX_TAYLOR_ORDER)
    sa = _v.real_array(s, "s")
    coef = 1.0 / _special.factorial(np.arange(P + 1))
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.polynomial.polynomial.polyval(sa, coef)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"s: T_{P}(s) exceeds the float range")
    return _unwrap(out)


def taylor_features(x: Any, order: int) -> np.ndarray:
    """Explicit features with phi(x)·phi(y) = T_P(x·y) (section 5.2): all monomials
    x^alpha / sqrt(alpha!), |alpha| <= P; feature dimension C(d + P, P) (at most 10^6).
    x: (..., d).

    Raises:
        TypeError: x not real, order not an integer. ValueError: NaN/inf, shapes, more than
        10^6 features or 2 GiB, features beyond the float range.
    """
    P = _order(order, "order", _MAX_TAYLOR_ORDER)
    xa = _v.real_array(x, "x", min_ndim=1)
    if xa.shape[-1] == 0:
        raise ValueError("x: expected vectors (..., d) with d >= 1")
    d = xa.shape[-1]
    n_feat = _math.comb(d + P, P)
    if n_feat > _MAX_TAYLOR_FEATURES:
        raise ValueError(f"order: C(d + P, P) = {n_feat:.3g} features for d = {d}, P = {P}; "
                         f"at most {_MAX_TAYLOR_FEATURES:g} (lower the order or d of x)")
    rows = xa.size // d
    _v.check_memory(8.0 * n_feat * (rows * (max(P, 1) + 1) + max(P, 1)), "x")
    combos = [c for p in range(P + 1) for c in _itertools.combinations_with_replacement(range(d), p)]
    idx = np.full((len(combos), max(P, 1)), d)  # index d points at a padding 1
    for row, c in enumerate(combos):
        idx[row, : len(c)] = c
    norm = np.array(
        [_math.prod(_math.factorial(c.count(i)) for i in set(c)) for c in combos], dtype=float
    )
    padded = np.concatenate([xa, np.ones(xa.shape[:-1] + (1,))], axis=-1)
    with np.errstate(over="ignore", invalid="ignore"):
        out = padded[..., idx].prod(axis=-1) / np.sqrt(norm)
    if not np.all(np.isfinite(out)):
        raise ValueError("x: the monomial features exceed the float range")
    return out


def _attention_pair(q: Any, k: Any, qname: str, kname: str) -> tuple[np.ndarray, np.ndarray]:
    qa = _v.real_array(q, qname, ndim=2, allow_empty=False)
    ka = _v.real_array(k, kname, ndim=2, allow_empty=False)
    if qa.shape != ka.shape:
        raise ValueError(f"{qname}, {kname}: expected equal shapes (n, d), got {qa.shape}, {ka.shape}")
    _v.check_memory(3 * 8.0 * qa.shape[0] ** 2, qname)
    return qa, ka


def causal_softmax_attention(q: Any, k: Any, scale: float = 1.0) -> np.ndarray:
    """Row-stochastic causal softmax attention softmax(scale * q k' + mask), q, k: (n, d)
    (section 1).

    Raises:
        TypeError: not real numbers. ValueError: NaN/inf, shapes, logits beyond the float range.
    """
    qa, ka = _attention_pair(q, k, "q", "k")
    c = _v.real_scalar(scale, "scale")
    with np.errstate(over="ignore", invalid="ignore"):
        logits = c * (qa @ ka.T)
    mask = np.tri(qa.shape[0], dtype=bool)
    if not np.all(np.isfinite(logits[mask])):
        raise ValueError("q, k, scale: the logits scale * q·k exceed the float range")
    logits[~mask] = -np.inf
    return _special.softmax(logits, axis=-1)


def linear_attention_weights(
    q_feat: Any, k_feat: Any, *, causal: bool = True, eps: float = 0.0
) -> np.ndarray:
    """Weights (q~_i·k~_j) / (sum_j' q~_i·k~_j' + eps) of linear attention (causal: j <= i;
    sections 1 and 5.1).

    With eps = 0 a row whose weights all vanish (possible for relu features) raises ValueError;
    fast-transformers uses eps = 1e-6 and returns a zero row instead. eps >= 0.

    Raises:
        TypeError: not real numbers, causal not a bool. ValueError: NaN/inf, shapes, negative
        features, eps < 0, a 0/0 row with eps = 0, weights beyond the float range.
    """
    qa, ka = _attention_pair(q_feat, k_feat, "q_feat", "k_feat")
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"causal: expected True or False, got {type(causal).__name__}")
    e = _v.real_scalar(eps, "eps", low=0.0)
    if np.any(qa < 0):
        raise ValueError("q_feat: non-negative features expected")
    if np.any(ka < 0):
        raise ValueError("k_feat: non-negative features expected")
    # rows of q~ and k~ scaled to max 1: the weights are invariant to scaling each query row;
    # scaling all keys by one factor c changes eps relative to the sum, so eps is scaled with it
    q_top = np.maximum(qa.max(axis=1, keepdims=True), np.finfo(float).tiny)
    k_top = max(float(ka.max()), np.finfo(float).tiny)
    with np.errstate(under="ignore", over="ignore"):
        w = (qa / q_top) @ (ka / k_top).T
        if causal:
            w = np.tril(w)
        z = w.sum(axis=-1, keepdims=True) + e / (q_top * k_top)
    if np.any(z == 0):
        raise ValueError("q_feat, k_feat: a row has no positive weight (0/0); pass eps > 0")
    out = w / z
    if not np.all(np.isfinite(out)):
        raise ValueError("q_feat, k_feat: the weights exceed the float range")
    return out


# --- finite-n softmax rows (section 5.5) -----------------------------------------------------


def softmax_row_neff(gammas: Any, n: int, rows: int, rng: np.random.Generator) -> np.ndarray:
    """N_eff = 1/sum p_i^2 of rows p = softmax(gamma * eps), eps ~ N(0, I_n), for each gamma
    (section 5.5); the same ``rows`` draws serve every gamma (common random numbers).
    Returns shape (len(gammas), rows); S^2 = N_eff / n.

    Raises:
        TypeError: wrong kinds (rng must be a numpy Generator). ValueError: NaN/inf, gammas < 0
        or not 1-D, n outside [1, 1e8], rows < 1, more than 2 GiB per row.
    """
    g = _v.real_array(gammas, "gammas", ndim=1, low=0.0)
    m = _v.size(n, "n", high=_MAX_TOKENS)
    r = _v.size(rows, "rows", high=10**7)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    _v.check_memory(3 * 8.0 * m, "n")
    out = np.empty((g.size, r))
    for i in range(r):
        eps = rng.standard_normal(m)
        x = eps - eps.max()
        for j, gj in enumerate(g):
            with np.errstate(under="ignore"):
                e = np.exp(gj * x)
            s1 = e.sum()
            out[j, i] = s1 * s1 / (e * e).sum()
    return out


# --- a trained associative-recall model (section 5.6) -----------------------------------------


def train_recall(
    attention: _AttentionKind,
    d: int,
    seed: int = 0,
    *,
    n_pairs: int = 32,
    n_keys: int = 64,
    steps: int = 800,
    batch: int = 128,
    lr: float = 3e-3,
    eval_batch: int = 1024,
) -> dict[str, float]:
    """Train one attention layer on associative recall and return its final metrics (section 5.6).

    A sequence holds ``n_pairs`` (key, value) tokens, x_j = E_k[key_j] + E_v[value_j], with
    distinct keys out of ``n_keys`` and values out of as many; the query is E_k[key*] for one
    of them and the target its value. One head, q = W_q x_q, k_j = W_k x_j, v_j = W_v x_j, all
    d x d; weights a_j = softmax(q·k_j/sqrt d) ("softmax") or ∝ phi(q)·phi(k_j) with
    phi = elu + 1 ("linear"); logits W_o sum_j a_j v_j. Adam, cross-entropy, float32 on the CPU,
    the number of torch threads is the caller's choice. Data from ``numpy.random.default_rng(seed)``,
    the initialisation from a ``torch.Generator`` seeded with ``seed`` (the global torch RNG is
    not touched); the evaluation set from ``default_rng(seed + 10**6)``.

    Returns ``{"accuracy", "mass", "sparsity", "loss"}`` on ``eval_batch`` fresh sequences:
    mass = mean attention weight on the queried pair, sparsity = mean S of the attention rows.
    A run whose loss is not finite reports loss = inf (diverged).

    Raises:
        TypeError: wrong kinds. ValueError: attention not 'softmax'/'linear', sizes outside
        their ranges (d <= 1024, n_pairs <= n_keys <= 10^5, steps <= 10^6, batch and
        eval_batch <= 10^5), lr not in (0, 10], more than 2 GiB per batch.
    """
    import torch

    kind = _v.choice(attention, "attention", ("softmax", "linear"))
    dim = _v.size(d, "d", high=1024)
    s = _v.size(seed, "seed", low=0, high=2**62)
    n = _v.size(n_pairs, "n_pairs", high=10**5)
    kk = _v.size(n_keys, "n_keys", low=n, high=10**5)
    t_steps = _v.size(steps, "steps", low=0, high=10**6)
    b = _v.size(batch, "batch", high=10**5)
    be = _v.size(eval_batch, "eval_batch", high=10**5)
    rate = _v.real_scalar(lr, "lr", low=0.0, low_open=True, high=10.0)
    _v.check_memory(4.0 * 8 * max(b, be) * n * (dim + kk), "batch")

    gen = torch.Generator().manual_seed(s)
    emb_k = torch.nn.Parameter(torch.randn(kk, dim, generator=gen) / _math.sqrt(dim))
    emb_v = torch.nn.Parameter(torch.randn(kk, dim, generator=gen) / _math.sqrt(dim))
    mats = [torch.nn.Parameter(torch.randn(dim, dim, generator=gen) / _math.sqrt(dim)) for _ in range(3)]
    w_o = torch.nn.Parameter(torch.randn(dim, kk, generator=gen) / _math.sqrt(dim))
    params = [emb_k, emb_v, *mats, w_o]
    opt = torch.optim.Adam(params, lr=rate)

    def draw(rg: np.random.Generator, size: int) -> tuple[Any, Any, Any]:
        keys = np.argsort(rg.random((size, kk)), axis=1)[:, :n]
        values = rg.integers(kk, size=(size, n))
        pos = rg.integers(n, size=size)
        return torch.from_numpy(keys), torch.from_numpy(values), torch.from_numpy(pos)

    def forward(keys: Any, values: Any, pos: Any) -> tuple[Any, Any]:
        x = emb_k[keys] + emb_v[values]  # (B, n, d)
        xq = emb_k[keys.gather(1, pos[:, None])[:, 0]]  # (B, d)
        q, k, v = xq @ mats[0], x @ mats[1], x @ mats[2]
        if kind == "softmax":
            a = torch.softmax((k @ q[:, :, None])[:, :, 0] / _math.sqrt(dim), dim=-1)
        else:
            phi_q, phi_k = torch.nn.functional.elu(q) + 1, torch.nn.functional.elu(k) + 1
            w = (phi_k @ phi_q[:, :, None])[:, :, 0]
            a = w / w.sum(-1, keepdim=True)
        out = (a[:, :, None] * v).sum(1)
        return out @ w_o, a

    rg = np.random.default_rng(s)
    for _ in range(t_steps):
        keys, values, pos = draw(rg, b)
        logits, _ = forward(keys, values, pos)
        loss = torch.nn.functional.cross_entropy(logits, values.gather(1, pos[:, None])[:, 0])
        if not torch.isfinite(loss):
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    keys, values, pos = draw(np.random.default_rng(s + 10**6), be)
    with torch.no_grad():
        logits, a = forward(keys, values, pos)
        target = values.gather(1, pos[:, None])[:, 0]
        loss = float(torch.nn.functional.cross_entropy(logits, target))
        if not _math.isfinite(loss) or not bool(torch.isfinite(a).all()):
            return {"accuracy": 0.0, "mass": 0.0, "sparsity": 1.0, "loss": _math.inf}
        acc = float((logits.argmax(-1) == target).double().mean())
        mass = float(a.gather(1, pos[:, None]).double().mean())
        a64 = a.double().numpy()
    return {"accuracy": acc, "mass": mass, "sparsity": float(np.mean(sparsity(a64, axis=1))), "loss": loss}
