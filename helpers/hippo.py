"""HiPPO memory: Legendre projection of a signal's history as a linear ODE (notebook 08).

Conventions (notebook 08 derives each of them):

* ``N`` is the **state size**: the coefficients of the Legendre polynomials of degree 0..N-1.
  (The post's N is the highest degree, so its state has N+1 entries.)
* The basis lives on ``s in [-1, 1]`` with ``s = +1`` meaning "now". The post's orthonormal basis
  is ``g_n(s) = sqrt((2n+1)/2) P_n(s)``, and ``c_n = int_{-1}^{1} u(t(s)) g_n(s) ds``.
* LegT (sliding window of length ``theta``): ``t(s) = T - theta + (s+1) theta/2`` and
  ``x' = A x + B u`` (post eq. leg-t-hippo-1).
* LegS (scaled, whole history): ``t(s) = (s+1) T/2`` and ``x' = (A x + B u)/t`` (eq. leg-s-hippo).
* ``A`` carries its minus sign (stable), as in the post and in the reference code.

Three normalisations of the same state, ``c_post = lam * c_norm`` (``norm_scale``):

=============  ==================  ==========================================================
``norm``       ``lam_n``           what the state holds
=============  ==================  ==========================================================
``"post"``     1                   coefficients on the orthonormal ``g_n``; B_n = sqrt(2(2n+1))
``"paper"``    sqrt(2)             HiPPO paper / S4 scaling; B_n = sqrt(2n+1)
``"rational"`` sqrt(2/(2n+1))      plain Legendre coefficients ``u = sum c_n P_n``; no square
                                   roots left (eqs. leg-t-hippo-2, leg-s-hippo-2); B_n = 2n+1
=============  ==================  ==========================================================

For LegT every B above is divided by ``theta``; ``"rational"`` LegT is the LMU matrix up to the
orientation flip ``diag((-1)^n)``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.polynomial import legendre as npleg
from scipy import linalg

__all__ = [
    "NORMS",
    "METHODS",
    "norm_scale",
    "legt",
    "legs",
    "legt_entrywise",
    "legs_entrywise",
    "fourier",
    "low_rank_correction",
    "discretize",
    "scan",
    "scan_legs",
    "kernel",
    "causal_conv",
    "legendre_basis",
    "window_map",
    "project",
    "reconstruct",
]

NORMS = ("post", "paper", "rational")
METHODS = ("euler", "backward_euler", "bilinear", "zoh")
MEASURES = ("legt", "legs")


# --- argument checks ---------------------------------------------------------------------------


def _check_N(N) -> int:
    if isinstance(N, bool) or not isinstance(N, numbers.Integral):
        raise TypeError(f"N must be an integer (the state size), got {type(N).__name__}")
    if N < 1:
        raise ValueError(f"N must be >= 1 (the state size), got {N}")
    return int(N)


def _check_positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be positive and finite, got {value}")
    return value


def _check_choice(name: str, value, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _check_system(A, B) -> tuple[np.ndarray, np.ndarray]:
    A = np.asarray(A)
    B = np.asarray(B)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise ValueError(f"A must be a non-empty square matrix, got shape {A.shape}")
    if B.ndim not in (1, 2) or B.shape[0] != A.shape[0]:
        raise ValueError(f"B must have shape ({A.shape[0]},) or ({A.shape[0]}, m), got {B.shape}")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(B))):
        raise ValueError("A and B must be finite")
    return A, B


def _check_signal(u, name: str = "u") -> np.ndarray:
    u = np.asarray(u)
    if u.ndim not in (1, 2) or u.shape[0] == 0:
        raise ValueError(f"{name} must have shape (L,) or (L, batch) with L >= 1, got {u.shape}")
    if not np.all(np.isfinite(u)):
        raise ValueError(f"{name} must be finite")
    return u


# --- the matrices ------------------------------------------------------------------------------


def norm_scale(N: int, norm: str = "post") -> np.ndarray:
    """``lam`` with ``c_post = lam * c_norm``; then ``A_norm = diag(1/lam) A_post diag(lam)`` and
    ``B_norm = B_post / lam`` (the post's rescaling ``c_n = lambda_n c~_n``)."""
    N = _check_N(N)
    _check_choice("norm", norm, NORMS)
    n = np.arange(N)
    if norm == "post":
        return np.ones(N)
    if norm == "paper":
        return np.full(N, np.sqrt(2.0))
    return np.sqrt(2.0 / (2 * n + 1))


def _rescale(A: np.ndarray, B: np.ndarray, norm: str) -> tuple[np.ndarray, np.ndarray]:
    lam = norm_scale(A.shape[0], norm)
    return A * (lam[None, :] / lam[:, None]), B / lam


def legt(N: int, theta: float = 1.0, norm: str = "post") -> tuple[np.ndarray, np.ndarray]:
    """HiPPO-LegT (window ``theta``), post eq. leg-t-hippo-1:

    ``A[n,k] = -r_n r_k / theta * (1 if k < n else (-1)^(n-k))``, ``r_n = sqrt(2n+1)``,
    ``B[n] = sqrt(2) r_n / theta``. Returns ``(A (N,N), B (N,))`` in the chosen ``norm``.
    Only an approximation of the sliding-window projection (it truncates ``u(T-theta)``)."""
    N = _check_N(N)
    theta = _check_positive("theta", theta)
    _check_choice("norm", norm, NORMS)
    n = np.arange(N)
    r = np.sqrt(2 * n + 1.0)
    sign = np.where(n[None, :] < n[:, None], 1.0, (-1.0) ** (n[:, None] - n[None, :]))
    A = -np.outer(r, r) * sign / theta
    B = np.sqrt(2.0) * r / theta
    return _rescale(A, B, norm)


def legs(N: int, norm: str = "post") -> tuple[np.ndarray, np.ndarray]:
    """HiPPO-LegS (whole history, ``x' = (A x + B u)/t``), post eq. leg-s-hippo:

    ``A[n,k] = -r_n r_k`` (k < n), ``-(n+1)`` (k = n), 0 (k > n); ``B[n] = sqrt(2) r_n``.
    Exact for every N: A is lower triangular, so truncation drops nothing."""
    N = _check_N(N)
    _check_choice("norm", norm, NORMS)
    n = np.arange(N)
    r = np.sqrt(2 * n + 1.0)
    A = -np.tril(np.outer(r, r), -1) - np.diag(n + 1.0)
    B = np.sqrt(2.0) * r
    return _rescale(A, B, norm)


def legt_entrywise(N: int, theta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``legt(N, theta)`` built one entry at a time in plain Python: the straightforward
    reference that the vectorised builder is tested and benchmarked against."""
    N, theta = _check_N(N), _check_positive("theta", theta)
    A, B = np.zeros((N, N)), np.zeros(N)
    for n in range(N):
        B[n] = math.sqrt(2 * (2 * n + 1)) / theta
        for k in range(N):
            sign = 1.0 if k < n else (-1.0) ** (n - k)
            A[n, k] = -sign * math.sqrt((2 * n + 1) * (2 * k + 1)) / theta
    return A, B


def legs_entrywise(N: int) -> tuple[np.ndarray, np.ndarray]:
    """``legs(N)`` built one entry at a time in plain Python (reference, as ``legt_entrywise``)."""
    N = _check_N(N)
    A, B = np.zeros((N, N)), np.zeros(N)
    for n in range(N):
        B[n] = math.sqrt(2 * (2 * n + 1))
        for k in range(n):
            A[n, k] = -math.sqrt((2 * n + 1) * (2 * k + 1))
        A[n, n] = -(n + 1.0)
    return A, B


def fourier(K: int, theta: float = 1.0, factor: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Sliding-window Fourier memory of post eq. fourier-dc, state ``(c_-K, ..., c_K)`` (complex).

    ``A[n,k] = (2 i pi n delta_nk - factor) / theta``, ``B = factor / theta``. ``factor=1`` is the
    post's system (it estimates ``u(T-theta)`` by ``sum_k c_k``, which converges to the *average*
    of ``u(T-theta)`` and ``u(T)``); ``factor=2`` uses ``2 sum_k c_k - u(T)`` instead."""
    if isinstance(K, bool) or not isinstance(K, numbers.Integral):
        raise TypeError(f"K must be an integer, got {type(K).__name__}")
    if K < 0:
        raise ValueError(f"K must be >= 0 (state size 2K+1), got {K}")
    theta = _check_positive("theta", theta)
    if factor not in (1, 2):
        raise ValueError(f"factor must be 1 (the post) or 2 (corrected), got {factor!r}")
    n = np.arange(-K, K + 1)
    A = (np.diag(2j * np.pi * n) - factor * np.ones((n.size, n.size))) / theta
    B = np.full(n.size, factor / theta, dtype=complex)
    return A, B


def low_rank_correction(measure: str, N: int, norm: str = "post") -> np.ndarray:
    """``P (N, r)`` such that ``A + P P^T`` is skew-symmetric (LegT, r = 2, ``theta = 1``) or
    ``-I/2 + skew`` (LegS, r = 1), for the ``"post"`` and ``"paper"`` normalisations (the
    normal-plus-low-rank form S4 diagonalises instead of A itself)."""
    _check_choice("measure", measure, MEASURES)
    N = _check_N(N)
    _check_choice("norm", norm, ("post", "paper"))
    n = np.arange(N)
    r = np.sqrt(2 * n + 1.0)
    if measure == "legs":
        return np.sqrt(n + 0.5)[:, None]
    return np.stack([np.where(n % 2 == 0, r, 0.0), np.where(n % 2 == 1, r, 0.0)], axis=1)


# --- discretisation and running the memory -----------------------------------------------------


def discretize(A, B, dt: float, method: str = "bilinear") -> tuple[np.ndarray, np.ndarray]:
    """``(Ad, Bd)`` with ``x_{k+1} = Ad x_k + Bd u_k`` for ``x' = A x + B u`` and input held
    constant over a step of length ``dt`` (part 2 of the series):

    * ``"euler"``: ``Ad = I + dt A``, ``Bd = dt B``;
    * ``"backward_euler"``: ``Ad = (I - dt A)^-1``, ``Bd = dt (I - dt A)^-1 B``;
    * ``"bilinear"``: ``Ad = (I - dt A/2)^-1 (I + dt A/2)``, ``Bd = dt (I - dt A/2)^-1 B``;
    * ``"zoh"``: ``Ad = e^{dt A}``, ``Bd = A^-1 (e^{dt A} - I) B`` (exact for piecewise-constant
      input; computed as one ``expm`` of the block matrix ``[[A, B], [0, 0]] dt``, so A may be
      singular). Same formulas as ``scipy.signal.cont2discrete``."""
    A, B = _check_system(A, B)
    dt = _check_positive("dt", dt)
    _check_choice("method", method, METHODS)
    N = A.shape[0]
    B2 = B.reshape(N, -1)
    eye = np.eye(N)
    if method == "euler":
        Ad, Bd = eye + dt * A, dt * B2
    elif method == "backward_euler":
        lu = linalg.lu_factor(eye - dt * A)
        Ad, Bd = linalg.lu_solve(lu, eye), linalg.lu_solve(lu, dt * B2)
    elif method == "bilinear":
        lu = linalg.lu_factor(eye - dt / 2 * A)
        Ad, Bd = linalg.lu_solve(lu, eye + dt / 2 * A), linalg.lu_solve(lu, dt * B2)
    else:
        m = B2.shape[1]
        M = np.zeros((N + m, N + m), dtype=np.result_type(A, B2, float))
        M[:N, :N], M[:N, N:] = A, B2
        E = linalg.expm(dt * M)
        Ad, Bd = E[:N, :N], E[:N, N:]
    return Ad, Bd.reshape(B.shape)


def scan(Ad, Bd, u, x0=None) -> np.ndarray:
    """Run ``x_{k+1} = Ad x_k + Bd u_k`` over ``u (L,)`` or ``u (L, batch)``; returns the states
    after each step, ``(L, N)`` or ``(L, batch, N)`` (so row k is ``x_{k+1}``). ``x0`` defaults
    to 0. One loop over time (a dense mat-vec per step, O(L N^2)); scalar input (Bd of shape (N,))."""
    Ad, Bd = _check_system(Ad, Bd)
    if Bd.ndim != 1:
        raise ValueError(f"Bd must have shape (N,) for a scalar input, got {Bd.shape}")
    u = _check_signal(u)
    N = Ad.shape[0]
    batch = u.shape[1:]
    dtype = np.result_type(Ad, Bd, u, float)
    x = np.zeros(batch + (N,), dtype) if x0 is None else np.array(x0, dtype=dtype)
    if x.shape != batch + (N,):
        raise ValueError(f"x0 must have shape {batch + (N,)}, got {x.shape}")
    out = np.empty(u.shape + (N,), dtype)
    AdT = Ad.T
    for k in range(u.shape[0]):
        x = x @ AdT + u[k][..., None] * Bd
        out[k] = x
    return out


def scan_legs(A, B, u, method: str = "bilinear") -> np.ndarray:
    """Run HiPPO-LegS ``x' = (A x + B u)/t`` over samples ``u_1..u_L`` (``u (L,)``), the k-th
    held on ``((k-1) eps, k eps]``; returns ``(L, N)``, row k-1 being ``x(k eps)``.

    In ``tau = ln t`` LegS is time-invariant, so step k >= 2 is ``discretize(A, B, h_k, method)``
    with ``h_k = ln(k/(k-1))``; the first step is exact, ``x_1 = -A^{-1} B u_1`` (the projection of
    a constant). Only the step index enters: the result does not depend on ``eps``.
    ``"zoh"`` is exact for piecewise-constant input but costs one ``expm`` per step."""
    A, B = _check_system(A, B)
    if B.ndim != 1:
        raise ValueError(f"B must have shape (N,), got {B.shape}")
    _check_choice("method", method, METHODS)
    u = _check_signal(u)
    if u.ndim != 1:
        raise ValueError(f"u must have shape (L,), got {u.shape}")
    N = A.shape[0]
    lower = np.allclose(A, np.tril(A))
    out = np.empty((u.size, N))
    x = -linalg.solve(A, B) * u[0]
    out[0] = x
    eye = np.eye(N)
    for k in range(2, u.size + 1):
        h = np.log(k / (k - 1))
        if method == "euler":
            x = x + h * (A @ x + B * u[k - 1])
        elif method == "zoh":
            Ad, Bd = discretize(A, B, h, "zoh")
            x = Ad @ x + Bd * u[k - 1]
        else:  # implicit: lower-triangular solve for LegS (O(N^2)), dense otherwise
            a = 1.0 if method == "backward_euler" else 0.5
            rhs = x + (1 - a) * h * (A @ x) + h * B * u[k - 1]
            M = eye - a * h * A
            x = linalg.solve_triangular(M, rhs, lower=True) if lower else linalg.solve(M, rhs)
        out[k - 1] = x
    return out


def kernel(Ad, Bd, L: int) -> np.ndarray:
    """SSM convolution kernel ``K_l = Ad^l Bd`` for ``l = 0..L-1``, shape ``(L, N)``; then
    ``scan(Ad, Bd, u)[m] = sum_{j<=m} K_{m-j} u_j``. Built by doubling (``K[m:2m] = Ad^m K[:m]``,
    ``Ad^m`` by repeated squaring): about log2(L) matrix-matrix products instead of L mat-vecs."""
    Ad, Bd = _check_system(Ad, Bd)
    if Bd.ndim != 1:
        raise ValueError(f"Bd must have shape (N,), got {Bd.shape}")
    L = _check_N(L)
    K = Bd[None, :].astype(np.result_type(Ad, Bd, float))
    power = Ad  # Ad^m with m = len(K)
    while K.shape[0] < L:
        K = np.concatenate([K, K[: L - K.shape[0]] @ power.T])
        if K.shape[0] < L:
            power = power @ power
    return K


def causal_conv(K, u) -> np.ndarray:
    """``y[m] = sum_{j<=m} K[m-j] u[j]`` for ``K (L, N)`` and ``u (L,)``, by FFT (O(N L log L))."""
    K = np.asarray(K)
    u = _check_signal(u)
    if K.ndim != 2 or u.ndim != 1 or K.shape[0] != u.shape[0]:
        raise ValueError(f"need K (L, N) and u (L,) with the same L, got {K.shape} and {u.shape}")
    L = u.size
    n = 1 << (2 * L - 1).bit_length()
    fft, ifft = (np.fft.rfft, np.fft.irfft) if not np.iscomplexobj(K) else (np.fft.fft, np.fft.ifft)
    Y = fft(K, n, axis=0) * fft(u, n)[:, None]
    return ifft(Y, n, axis=0)[:L]


# --- projection and reconstruction -------------------------------------------------------------


def legendre_basis(N: int, s, norm: str = "post") -> np.ndarray:
    """``G (..., N)`` with ``u(t(s)) ~ G @ c`` for a state ``c`` in ``norm``: ``lam_n g_n(s)``,
    ``g_n = sqrt((2n+1)/2) P_n`` (``numpy.polynomial.legendre.legvander``)."""
    N = _check_N(N)
    s = np.asarray(s, dtype=float)
    if np.any(np.abs(s) > 1 + 1e-12):
        raise ValueError("s must lie in [-1, 1]")
    n = np.arange(N)
    vander = npleg.legvander(s.ravel(), N - 1).reshape(s.shape + (N,))
    return vander * (np.sqrt((2 * n + 1) / 2.0) * norm_scale(N, norm))


def window_map(s, T: float, measure: str = "legt", theta: float = 1.0) -> np.ndarray:
    """Time ``t(s)`` seen at ``s in [-1, 1]``: ``T - theta + (s+1) theta/2`` (LegT) or
    ``(s+1) T/2`` (LegS)."""
    _check_choice("measure", measure, MEASURES)
    T = _check_positive("T", T)
    s = np.asarray(s, dtype=float)
    if measure == "legt":
        return T - _check_positive("theta", theta) + (s + 1) * theta / 2
    return (s + 1) * T / 2


def project(u, T: float, N: int, measure: str = "legt", theta: float = 1.0, norm: str = "post",
            nodes: int = 400) -> np.ndarray:
    """The exact state ``c_n(T) = int_{-1}^{1} u(t(s)) g_n(s) ds`` (best L2 approximation of the
    window / history), by Gauss-Legendre quadrature with ``nodes`` points; ``u`` a vectorised
    callable. Returned in ``norm`` (divided by ``lam``)."""
    N = _check_N(N)
    nodes = _check_N(nodes)
    if not callable(u):
        raise TypeError("u must be a callable taking an array of times")
    s, w = npleg.leggauss(nodes)
    vals = np.asarray(u(window_map(s, T, measure, theta)), dtype=float)
    c_post = (w * vals) @ legendre_basis(N, s, "post")
    return c_post / norm_scale(N, norm)


def reconstruct(c, t, T: float, measure: str = "legt", theta: float = 1.0,
                norm: str = "post") -> np.ndarray:
    """``u(t) ~ sum_n c_n lam_n g_n(s(t))`` from a state ``c (..., N)`` at time ``T``, for times
    ``t`` inside the window ``[T - theta, T]`` (LegT) or ``[0, T]`` (LegS). Uses
    ``numpy.polynomial.legendre.legval`` on the plain-Legendre coefficients."""
    _check_choice("measure", measure, MEASURES)
    T = _check_positive("T", T)
    c = np.asarray(c)
    if c.ndim == 0 or c.shape[-1] == 0:
        raise ValueError("c must have a last axis of length N >= 1")
    t = np.asarray(t, dtype=float)
    if measure == "legt":
        theta = _check_positive("theta", theta)
        s = 2 * (t - T) / theta + 1
    else:
        s = 2 * t / T - 1
    if np.any(np.abs(s) > 1 + 1e-9):
        raise ValueError("t must lie in the window the state remembers")
    N = c.shape[-1]
    n = np.arange(N)
    plain = c * (norm_scale(N, norm) * np.sqrt((2 * n + 1) / 2.0))  # coefficients on P_n
    return npleg.legval(s, np.moveaxis(plain, -1, 0), tensor=c.ndim > 1)
