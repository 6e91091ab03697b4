"""The attention scale from gradient maximisation (notebook 02; post kexue.fm/archives/9812).

p = softmax(alpha * s) over the last axis, s = scores of one query against n keys; equation
numbers refer to notebook 02.
"""

from __future__ import annotations

import numpy as np

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
