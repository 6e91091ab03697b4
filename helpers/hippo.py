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

Arguments are checked with :mod:`helpers._validate`; errors name the argument (ValueError for a
bad value, TypeError for the wrong kind of thing). Torch rule: numpy-side only; tensors are
``.detach()``-ed and copied to the host, results are numpy arrays. Signals, times and scalars must
be real (complex input is rejected, never cut to its real part). System matrices (``A``, ``B``,
``Ad``, ``Bd``, ``x0``, ``K``) may be complex, because the Fourier memory of :func:`fourier` is.
Sizes have ceilings, and memory is checked before any large allocation (2 GiB per call).
scipy is imported only by the functions that need it (:func:`discretize`, :func:`scan_legs`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.polynomial import legendre as npleg

from helpers._validate import check_memory, choice, is_tensor, real_array, real_scalar, size

__all__ = [
    "NORMS",
    "METHODS",
    "MEASURES",
    "STEPPINGS",
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
STEPPINGS = ("log", "unit")

MAX_ENTRYWISE = 2048  # the pure-Python reference builders are O(N^2) interpreter steps
MAX_NODES = 4096  # Gauss-Legendre nodes: numpy's leggauss is O(nodes^2) memory and more in time


# --- argument checks (on top of helpers._validate) ---------------------------------------------


def _state_size(N: Any, name: str = "N") -> int:
    """A state size >= 1 whose N x N float64 matrices (a few of them) fit the memory budget."""
    N = size(N, name)
    check_memory(4 * 8.0 * N * N, name)
    return N


def _system_array(x: Any, name: str, *, ndim: tuple[int, ...]) -> np.ndarray:
    """A finite real or complex array (complex128 / float64 copy) with one of ``ndim`` dimensions."""
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"{name}: expected an array of numbers, got {type(x).__name__}")
    if is_tensor(x):
        x = x.detach().cpu()
        x = x.numpy() if x.is_complex() else x.double().numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: expected an array of numbers ({err})") from None
    if np.iscomplexobj(arr) and arr.dtype != object:
        arr = np.array(arr, dtype=np.complex128)
    else:
        arr = real_array(arr, name)  # real numbers only (no bool, object, str)
    if arr.ndim not in ndim:
        want = " or ".join(str(d) for d in ndim)
        raise ValueError(f"{name}: expected {want} dimension(s), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: expected finite numbers, found NaN or inf")
    return arr


def _system(A: Any, B: Any, a: str = "A", b: str = "B") -> tuple[np.ndarray, np.ndarray]:
    A = _system_array(A, a, ndim=(2,))
    if A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise ValueError(f"{a}: expected a non-empty square matrix, got shape {A.shape}")
    B = _system_array(B, b, ndim=(1, 2))
    if B.shape[0] != A.shape[0]:
        raise ValueError(f"{b}: expected shape ({A.shape[0]},) or ({A.shape[0]}, m), got {B.shape}")
    return A, B


def _signal(u: Any, name: str = "u", ndim: tuple[int, ...] = (1, 2)) -> np.ndarray:
    return real_array(u, name, ndim=ndim, allow_empty=False)


def _finite_result(name: str, *arrays: np.ndarray) -> None:
    if not all(np.isfinite(a).all() for a in arrays):
        raise ValueError(f"{name}: the result overflowed or is singular (NaN/inf); use a smaller {name}")


# --- the matrices ------------------------------------------------------------------------------


def norm_scale(N: int, norm: str = "post") -> np.ndarray:
    """``lam`` with ``c_post = lam * c_norm``; then ``A_norm = diag(1/lam) A_post diag(lam)`` and
    ``B_norm = B_post / lam`` (the post's rescaling ``c_n = lambda_n c~_n``, Step 11 of notebook 08).

    Raises: TypeError / ValueError for a bad ``N`` or an unknown ``norm``."""
    N = _state_size(N)
    choice(norm, "norm", NORMS)
    if norm == "post":
        return np.ones(N)
    if norm == "paper":
        return np.full(N, np.sqrt(2.0))
    return np.sqrt(2.0 / (2 * np.arange(N) + 1))


def _rescale(A: np.ndarray, B: np.ndarray, norm: str) -> tuple[np.ndarray, np.ndarray]:
    lam = norm_scale(A.shape[0], norm)
    return A * (lam[None, :] / lam[:, None]), B / lam


def legt(N: int, theta: float = 1.0, norm: str = "post") -> tuple[np.ndarray, np.ndarray]:
    """HiPPO-LegT (window ``theta``), post eq. leg-t-hippo-1 (Step 9 of notebook 08):

    ``A[n,k] = -r_n r_k / theta * (1 if k < n else (-1)^(n-k))``, ``r_n = sqrt(2n+1)``,
    ``B[n] = sqrt(2) r_n / theta``. Returns ``(A (N,N), B (N,))`` in the chosen ``norm``.
    Only an approximation of the sliding-window projection (it truncates ``u(T-theta)``).

    Raises: TypeError / ValueError for a bad ``N`` (or one too large for memory), ``theta``
    (a finite number > 0) or ``norm``."""
    N = _state_size(N)
    theta = real_scalar(theta, "theta", low=0.0, low_open=True)
    choice(norm, "norm", NORMS)
    n = np.arange(N)
    r = np.sqrt(2 * n + 1.0)
    sign = np.where(n[None, :] < n[:, None], 1.0, (-1.0) ** (n[:, None] - n[None, :]))
    A = -np.outer(r, r) * sign / theta
    B = np.sqrt(2.0) * r / theta
    A, B = _rescale(A, B, norm)
    _finite_result("theta", A, B)
    return A, B


def legs(N: int, norm: str = "post") -> tuple[np.ndarray, np.ndarray]:
    """HiPPO-LegS (whole history, ``x' = (A x + B u)/t``), post eq. leg-s-hippo (Step 12):

    ``A[n,k] = -r_n r_k`` (k < n), ``-(n+1)`` (k = n), 0 (k > n); ``B[n] = sqrt(2) r_n``.
    Exact for every N: A is lower triangular, so truncation drops nothing.

    Raises: TypeError / ValueError for a bad ``N`` or ``norm``."""
    N = _state_size(N)
    choice(norm, "norm", NORMS)
    n = np.arange(N)
    r = np.sqrt(2 * n + 1.0)
    A = -np.tril(np.outer(r, r), -1) - np.diag(n + 1.0)
    B = np.sqrt(2.0) * r
    return _rescale(A, B, norm)


def legt_entrywise(N: int, theta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``legt(N, theta)`` built one entry at a time in plain Python: the straightforward
    reference that the vectorised builder is tested and benchmarked against (Step 9).

    Raises: TypeError / ValueError for a bad ``N`` (at most 2048: O(N^2) Python steps) or
    ``theta``."""
    N = size(N, "N", high=MAX_ENTRYWISE)
    theta = real_scalar(theta, "theta", low=0.0, low_open=True)
    A, B = np.zeros((N, N)), np.zeros(N)
    for n in range(N):
        B[n] = math.sqrt(2 * (2 * n + 1)) / theta
        for k in range(N):
            sign = 1.0 if k < n else (-1.0) ** (n - k)
            A[n, k] = -sign * math.sqrt((2 * n + 1) * (2 * k + 1)) / theta
    _finite_result("theta", A, B)
    return A, B


def legs_entrywise(N: int) -> tuple[np.ndarray, np.ndarray]:
    """``legs(N)`` built one entry at a time in plain Python (reference, as ``legt_entrywise``).

    Raises: TypeError / ValueError for a bad ``N`` (at most 2048)."""
    N = size(N, "N", high=MAX_ENTRYWISE)
    A, B = np.zeros((N, N)), np.zeros(N)
    for n in range(N):
        B[n] = math.sqrt(2 * (2 * n + 1))
        for k in range(n):
            A[n, k] = -math.sqrt((2 * n + 1) * (2 * k + 1))
        A[n, n] = -(n + 1.0)
    return A, B


def fourier(K: int, theta: float = 1.0, factor: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Sliding-window Fourier memory of post eq. fourier-dc, state ``(c_-K, ..., c_K)`` (complex;
    Steps 2-4 of notebook 08).

    ``A[n,k] = (2 i pi n delta_nk - factor) / theta``, ``B = factor / theta``. ``factor=1`` is the
    post's system (it estimates ``u(T-theta)`` by ``sum_k c_k``, which converges to the *average*
    of ``u(T-theta)`` and ``u(T)``); ``factor=2`` uses ``2 sum_k c_k - u(T)`` instead, as S4's
    ``transition('fourier')`` does (in a real basis, with window 2).

    Raises: TypeError / ValueError for a bad ``K`` (>= 0), ``theta`` or ``factor`` (1 or 2)."""
    K = size(K, "K", low=0)
    check_memory(4 * 16.0 * (2 * K + 1) ** 2, "K")
    theta = real_scalar(theta, "theta", low=0.0, low_open=True)
    factor = size(factor, "factor", low=1, high=2)  # 1: the post's system, 2: corrected
    n = np.arange(-K, K + 1)
    A = (np.diag(2j * np.pi * n) - factor * np.ones((n.size, n.size))) / theta
    B = np.full(n.size, factor / theta, dtype=complex)
    _finite_result("theta", A, B)
    return A, B


def low_rank_correction(measure: str, N: int, norm: str = "post") -> np.ndarray:
    """``P (N, r)`` such that ``A + P P^T`` is skew-symmetric (LegT, r = 2, ``theta = 1``) or
    ``-I/2 + skew`` (LegS, r = 1), for the ``"post"`` and ``"paper"`` normalisations (the
    normal-plus-low-rank form S4 diagonalises instead of A itself; Steps 18 and 21).

    Raises: TypeError / ValueError for a bad ``measure``, ``N`` or ``norm`` (``"rational"`` has
    no such form: there ``A + A^T`` is indefinite)."""
    choice(measure, "measure", MEASURES)
    N = _state_size(N)
    choice(norm, "norm", ("post", "paper"))
    n = np.arange(N)
    r = np.sqrt(2 * n + 1.0)
    if measure == "legs":
        return np.sqrt(n + 0.5)[:, None]
    return np.stack([np.where(n % 2 == 0, r, 0.0), np.where(n % 2 == 1, r, 0.0)], axis=1)


# --- discretisation and running the memory -----------------------------------------------------


def discretize(A: Any, B: Any, dt: float, method: str = "bilinear") -> tuple[np.ndarray, np.ndarray]:
    """``(Ad, Bd)`` with ``x_{k+1} = Ad x_k + Bd u_k`` for ``x' = A x + B u`` and input held
    constant over a step of length ``dt`` (the table of section 8 of notebook 08, from part 2):

    * ``"euler"``: ``Ad = I + dt A``, ``Bd = dt B``;
    * ``"backward_euler"``: ``Ad = (I - dt A)^-1``, ``Bd = dt (I - dt A)^-1 B``;
    * ``"bilinear"``: ``Ad = (I - dt A/2)^-1 (I + dt A/2)``, ``Bd = dt (I - dt A/2)^-1 B``;
    * ``"zoh"``: ``Ad = e^{dt A}``, ``Bd = A^-1 (e^{dt A} - I) B`` (exact for piecewise-constant
      input; computed as one ``expm`` of the block matrix ``[[A, B], [0, 0]] dt``, so A may be
      singular). Same formulas as ``scipy.signal.cont2discrete``.

    Raises: TypeError / ValueError for bad ``A``, ``B`` (finite, square / matching), ``dt``
    (finite, > 0) or ``method``; ValueError naming ``dt`` when ``I - dt A`` (or ``I - dt A/2``)
    is singular (an eigenvalue of A at 1/dt, or 2/dt) or the result overflows."""
    from scipy import linalg

    A, B = _system(A, B)
    dt = real_scalar(dt, "dt", low=0.0, low_open=True)
    choice(method, "method", METHODS)
    N = A.shape[0]
    check_memory(6 * 16.0 * (N + B.reshape(N, -1).shape[1]) ** 2, "A")
    B2 = B.reshape(N, -1)
    eye = np.eye(N)
    with np.errstate(over="ignore", invalid="ignore"):
        if method == "euler":
            Ad, Bd = eye + dt * A, dt * B2
        elif method in ("backward_euler", "bilinear"):
            a = 1.0 if method == "backward_euler" else 0.5
            M = eye - a * dt * A
            _finite_result("dt", M)
            with warnings.catch_warnings():
                warnings.simplefilter("error", linalg.LinAlgWarning)
                try:
                    lu = linalg.lu_factor(M)
                except (linalg.LinAlgWarning, np.linalg.LinAlgError):
                    raise ValueError(f"dt: I - {a:g} dt A is singular for dt = {dt:g} (A has the "
                                     f"eigenvalue {1 / (a * dt):g}); use another dt or method") from None
            rhs = eye if method == "backward_euler" else eye + dt / 2 * A
            Ad, Bd = linalg.lu_solve(lu, rhs), linalg.lu_solve(lu, dt * B2)
        else:
            m = B2.shape[1]
            Mb = np.zeros((N + m, N + m), dtype=np.result_type(A, B2, float))
            Mb[:N, :N], Mb[:N, N:] = A, B2
            Mb = dt * Mb
            _finite_result("dt", Mb)
            E = linalg.expm(Mb)
            Ad, Bd = E[:N, :N], E[:N, N:]
    _finite_result("dt", Ad, Bd)
    return Ad, Bd.reshape(B.shape)


def scan(Ad: Any, Bd: Any, u: Any, x0: Any = None) -> np.ndarray:
    """Run ``x_{k+1} = Ad x_k + Bd u_k`` over ``u (L,)`` or ``u (L, batch)``; returns the states
    after each step, ``(L, N)`` or ``(L, batch, N)`` (so row k is ``x_{k+1}``). ``x0`` defaults
    to 0. One loop over time (a dense mat-vec per step, O(L N^2)); scalar input (Bd of shape
    (N,)). Section 7 of notebook 08.

    Raises: TypeError / ValueError for bad ``Ad``, ``Bd`` (shape (N,)), ``u`` (real, finite,
    non-empty), ``x0`` (finite, shape ``batch + (N,)``), or an output too large for memory (``u``);
    ValueError naming ``Ad`` if the states overflow."""
    Ad, Bd = _system(Ad, Bd, "Ad", "Bd")
    if Bd.ndim != 1:
        raise ValueError(f"Bd: expected shape (N,) for a scalar input, got {Bd.shape}")
    u = _signal(u)
    N = Ad.shape[0]
    batch = u.shape[1:]
    dtype = np.result_type(Ad, Bd, u, float)
    check_memory(u.size * N * np.dtype(dtype).itemsize * 1.0, "u")
    if x0 is None:
        x = np.zeros(batch + (N,), dtype)
    else:
        x = _system_array(x0, "x0", ndim=(len(batch) + 1,))
        if x.shape != batch + (N,):
            raise ValueError(f"x0: expected shape {batch + (N,)}, got {x.shape}")
        x = x.astype(np.result_type(dtype, x), copy=True)
        dtype = x.dtype
    out = np.empty(u.shape + (N,), dtype)
    AdT = Ad.T
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(u.shape[0]):
            x = x @ AdT + u[k][..., None] * Bd
            out[k] = x
    _finite_result("Ad", out)
    return out


def scan_legs(A: Any, B: Any, u: Any, method: str = "bilinear", stepping: str = "log") -> np.ndarray:
    """Run HiPPO-LegS ``x' = (A x + B u)/t`` over samples ``u_1..u_L`` (``u (L,)``), the k-th
    held on ``((k-1) eps, k eps]``; returns ``(L, N)``, row k-1 being ``x(k eps)`` (Steps 17, 19
    and B5 of notebook 08).

    ``stepping="log"``: in ``tau = ln t`` LegS is time-invariant, so step k >= 2 is
    ``discretize(A, B, h_k, method)`` with ``h_k = ln(k/(k-1))``; the first step is exact,
    ``x_1 = -A^{-1} B u_1`` (the projection of a constant). Second order for bilinear and zoh.
    ``stepping="unit"``: the recurrence of the HiPPO reference code, ``A/k`` and ``B/k`` per unit
    step from ``x_0 = 0`` (e.g. bilinear ``(I - A/2k)^-1 [(I + A/2k) x + B u_k / k]``, zoh
    ``discretize(A/k, B/k, 1, "zoh")``): first order. Either way only the step index enters:
    the result does not depend on ``eps``. ``"zoh"`` costs one ``expm`` per step.

    Raises: TypeError / ValueError for bad ``A`` (square, invertible for ``"log"``), ``B``
    (shape (N,)), ``u`` (real, finite, shape (L,)), ``method`` or ``stepping``."""
    from scipy import linalg

    A, B = _system(A, B)
    if B.ndim != 1:
        raise ValueError(f"B: expected shape (N,), got {B.shape}")
    choice(method, "method", METHODS)
    choice(stepping, "stepping", STEPPINGS)
    u = _signal(u, ndim=(1,))
    N = A.shape[0]
    check_memory(u.size * N * 16.0, "u")
    lower = np.allclose(A, np.tril(A))
    dtype = np.result_type(A, B, float)
    out = np.empty((u.size, N), dtype)
    eye = np.eye(N)
    with warnings.catch_warnings():
        warnings.simplefilter("error", linalg.LinAlgWarning)
        try:
            if stepping == "log":
                x = -linalg.solve(A, B) * u[0]
                first = 2
                out[0] = x
            else:
                x, first = np.zeros(N, dtype), 1
        except (linalg.LinAlgWarning, np.linalg.LinAlgError):
            raise ValueError("A: expected an invertible matrix (the exact first step solves A x = -B u_1)") from None
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(first, u.size + 1):
                uk = u[k - 1]
                if stepping == "log":
                    h, Ak, Bk = np.log(k / (k - 1)), A, B
                else:
                    h, Ak, Bk = 1.0, A / k, B / k
                if method == "euler":
                    x = x + h * (Ak @ x + Bk * uk)
                elif method == "zoh":
                    Ad, Bd = discretize(Ak, Bk, h, "zoh")
                    x = Ad @ x + Bd * uk
                else:  # implicit: lower-triangular solve for LegS (O(N^2)), dense otherwise
                    a = 1.0 if method == "backward_euler" else 0.5
                    rhs = x + (1 - a) * h * (Ak @ x) + h * Bk * uk
                    M = eye - a * h * Ak
                    try:
                        x = linalg.solve_triangular(M, rhs, lower=True) if lower else linalg.solve(M, rhs)
                    except (linalg.LinAlgWarning, np.linalg.LinAlgError):
                        raise ValueError(f"A: I - {a:g} h A is singular at step {k}") from None
                out[k - 1] = x
    _finite_result("A", out)
    return out


def kernel(Ad: Any, Bd: Any, L: int) -> np.ndarray:
    """SSM convolution kernel ``K_l = Ad^l Bd`` for ``l = 0..L-1``, shape ``(L, N)``; then
    ``scan(Ad, Bd, u)[m] = sum_{j<=m} K_{m-j} u_j`` (Step 20). Built by doubling
    (``K[m:2m] = Ad^m K[:m]``, ``Ad^m`` by repeated squaring): about log2(L) matrix-matrix
    products instead of L mat-vecs.

    Raises: TypeError / ValueError for bad ``Ad``, ``Bd`` (shape (N,)) or ``L`` (an integer >= 1
    whose kernel fits in memory); ValueError naming ``Ad`` if the powers overflow."""
    Ad, Bd = _system(Ad, Bd, "Ad", "Bd")
    if Bd.ndim != 1:
        raise ValueError(f"Bd: expected shape (N,), got {Bd.shape}")
    L = size(L, "L")
    dtype = np.result_type(Ad, Bd, float)
    check_memory(3.0 * L * Ad.shape[0] * np.dtype(dtype).itemsize, "L")
    K = Bd[None, :].astype(dtype)
    power = Ad  # Ad^m with m = len(K)
    with np.errstate(over="ignore", invalid="ignore"):
        while K.shape[0] < L:
            K = np.concatenate([K, K[: L - K.shape[0]] @ power.T])
            if K.shape[0] < L:
                power = power @ power
    _finite_result("Ad", K)
    return K


def causal_conv(K: Any, u: Any) -> np.ndarray:
    """``y[m] = sum_{j<=m} K[m-j] u[j]`` for ``K (L, N)`` and ``u (L,)``, by FFT (O(N L log L));
    Step 20.

    Raises: TypeError / ValueError for bad ``K`` (finite, 2-d), ``u`` (real, finite, 1-d, the
    same L) or sizes beyond the memory budget."""
    K = _system_array(K, "K", ndim=(2,))
    u = _signal(u, ndim=(1,))
    if K.shape[0] != u.shape[0]:
        raise ValueError(f"K: expected shape ({u.shape[0]}, N) to match u, got {K.shape}")
    L = u.size
    n = 1 << (2 * L - 1).bit_length()
    check_memory(4.0 * n * K.shape[1] * 16, "K")
    fft, ifft = (np.fft.rfft, np.fft.irfft) if not np.iscomplexobj(K) else (np.fft.fft, np.fft.ifft)
    Y = fft(K, n, axis=0) * fft(u, n)[:, None]
    return ifft(Y, n, axis=0)[:L]


# --- projection and reconstruction -------------------------------------------------------------


def legendre_basis(N: int, s: Any, norm: str = "post") -> np.ndarray:
    """``G (..., N)`` with ``u(t(s)) ~ G @ c`` for a state ``c`` in ``norm``: ``lam_n g_n(s)``,
    ``g_n = sqrt((2n+1)/2) P_n`` (``numpy.polynomial.legendre.legvander``; section 4).

    Raises: TypeError / ValueError for a bad ``N``, ``s`` (real, finite, inside [-1, 1]) or
    ``norm``, or an output too large for memory."""
    N = size(N, "N")
    s = real_array(s, "s", low=-1 - 1e-12, high=1 + 1e-12)
    choice(norm, "norm", NORMS)
    check_memory(3 * 8.0 * max(s.size, 1) * N, "N")
    n = np.arange(N)
    vander = npleg.legvander(s.ravel(), N - 1).reshape(s.shape + (N,))
    return vander * (np.sqrt((2 * n + 1) / 2.0) * norm_scale(N, norm))


def window_map(s: Any, T: float, measure: str = "legt", theta: float = 1.0) -> np.ndarray:
    """Time ``t(s)`` seen at ``s in [-1, 1]``: ``T - theta + (s+1) theta/2`` (LegT) or
    ``(s+1) T/2`` (LegS); sections 5 and 6 of notebook 08.

    Raises: TypeError / ValueError for a bad ``s`` (real, finite), ``T`` (finite, > 0),
    ``measure`` or ``theta`` (finite, > 0; used by LegT only)."""
    choice(measure, "measure", MEASURES)
    T = real_scalar(T, "T", low=0.0, low_open=True)
    theta = real_scalar(theta, "theta", low=0.0, low_open=True)
    s = real_array(s, "s")
    if measure == "legt":
        return T - theta + (s + 1) * theta / 2
    return (s + 1) * T / 2


def project(u: Callable[[np.ndarray], Any], T: float, N: int, measure: str = "legt",
            theta: float = 1.0, norm: str = "post", nodes: int = 400) -> np.ndarray:
    """The exact state ``c_n(T) = int_{-1}^{1} u(t(s)) g_n(s) ds`` (best L2 approximation of the
    window / history; Step 5 of notebook 08), by Gauss-Legendre quadrature with ``nodes`` points;
    ``u`` a vectorised callable returning real values. Returned in ``norm`` (divided by ``lam``).

    Raises: TypeError / ValueError for a bad ``u`` (not callable, or values that are not finite
    real numbers of the shape of its argument), ``T``, ``N``, ``measure``, ``theta``, ``norm`` or
    ``nodes`` (1..4096)."""
    if not callable(u):
        raise TypeError(f"u: expected a callable taking an array of times, got {type(u).__name__}")
    N = size(N, "N")
    nodes = size(nodes, "nodes", high=MAX_NODES)
    choice(norm, "norm", NORMS)
    check_memory(3 * 8.0 * nodes * N, "N")
    s, w = npleg.leggauss(nodes)
    times = window_map(s, T, measure, theta)
    vals = real_array(u(times), "u")
    if vals.shape != times.shape:
        vals = np.broadcast_to(vals, times.shape) if vals.ndim == 0 else vals
        if vals.shape != times.shape:
            raise ValueError(f"u: expected values of shape {times.shape}, got {vals.shape}")
    c_post = (w * vals) @ legendre_basis(N, s, "post")
    return c_post / norm_scale(N, norm)


def reconstruct(c: Any, t: Any, T: float, measure: str = "legt", theta: float = 1.0,
                norm: str = "post") -> np.ndarray:
    """``u(t) ~ sum_n c_n lam_n g_n(s(t))`` from a state ``c (..., N)`` at time ``T``, for times
    ``t`` inside the window ``[T - theta, T]`` (LegT) or ``[0, T]`` (LegS). Uses
    ``numpy.polynomial.legendre.legval`` on the plain-Legendre coefficients (Figure 2).

    Raises: TypeError / ValueError for a bad ``c`` (real, finite, last axis N >= 1), ``t`` (real,
    finite, inside the window), ``T``, ``measure``, ``theta`` or ``norm``."""
    choice(measure, "measure", MEASURES)
    T = real_scalar(T, "T", low=0.0, low_open=True)
    theta = real_scalar(theta, "theta", low=0.0, low_open=True)
    choice(norm, "norm", NORMS)
    c = real_array(c, "c", min_ndim=1)
    if c.shape[-1] == 0:
        raise ValueError("c: expected a last axis of length N >= 1")
    t = real_array(t, "t")
    check_memory(2 * 8.0 * max(t.size, 1) * max(c.size, 1), "t")
    s = 2 * (t - T) / theta + 1 if measure == "legt" else 2 * t / T - 1
    if np.any(np.abs(s) > 1 + 1e-9):
        lo, hi = (T - theta, T) if measure == "legt" else (0.0, T)
        raise ValueError(f"t: expected times inside the window [{lo:g}, {hi:g}] that the state at "
                         f"T = {T:g} remembers (check t, T and theta)")
    N = c.shape[-1]
    n = np.arange(N)
    plain = c * (norm_scale(N, norm) * np.sqrt((2 * n + 1) / 2.0))  # coefficients on P_n
    with np.errstate(over="ignore", invalid="ignore"):
        out = npleg.legval(s, np.moveaxis(plain, -1, 0), tensor=c.ndim > 1)
    _finite_result("c", out)
    return out
