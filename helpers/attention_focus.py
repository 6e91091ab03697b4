"""Can attention really focus? (notebook 03; post kexue.fm/archives/9889).

The sparsity index S(x) = E|x| / sqrt(E x^2) of the post (introduced in post 9595), its closed
forms for attention rows a_j ∝ f(q·k_j) with Gaussian keys (n -> infinity), the exact formula for
non-negative linear attention, linear decay, and Taylor features of exp.
Conventions: beta = q·mu and gamma = sigma*||q|| absorb any 1/sqrt(d) temperature; t = beta/gamma.
"""

from __future__ import annotations

import itertools as _itertools
import math as _math

import numpy as np

from scipy import integrate as _integrate
from scipy import special as _special

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
