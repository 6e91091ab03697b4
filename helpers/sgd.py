"""Projected SGD and its average-regret bound (notebook 04; Zinkevich 2003, Theorem 1).

The post's main result, eq. (4): for losses convex in theta, gradients bounded by ``G``, a convex
domain of diameter ``D`` and non-increasing rates ``eta_1 >= ... >= eta_T > 0``, projected SGD
``theta_{t+1} = Pi(theta_t - eta_t g_t)`` (eq. 17) satisfies, for every comparator ``u`` in the
domain and every data sequence,

    (1/T) sum_t L(x_t, theta_t) - (1/T) sum_t L(x_t, u)
        <= D^2 / (2 T eta_T) + G^2 / (2T) * sum_t eta_t.                        (4)

Conventions. "Regret" below is the post's *average* regret (the left side of (4)); the sum, as in
Zinkevich, Orabona and Hazan, is ``T`` times it (``average=False``). Learning-rate schedules are
arrays whose last axis is time; leading axes are independent runs (seeds, schedules). Iterates
have shape ``(S, d)``: ``S`` runs advanced together, one row each. The loss of step ``t`` is
logged at ``theta_t``, *before* the update that uses ``x_t`` (the order the bound is about).

Contents: the bound and a version valid for any positive schedule; schedules and their closed
forms (6), (8); projections onto a ball and a box; batched losses (logistic, absolute, linear)
with their (sub)gradients; the runner :func:`projected_sgd` and its log :class:`SGDRun`; exact or
certified comparators (FISTA with a Frank-Wolfe gap on a ball, an LP for the absolute loss); the
orthogonal-gradient instance that attains (6); plotting helpers for the bound figures.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
from scipy import optimize, sparse, special

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "regret_bound",
    "general_regret_bound",
    "constant_schedule",
    "inv_sqrt_schedule",
    "linear_decay_schedule",
    "warmup_schedule",
    "optimal_eta",
    "optimal_alpha",
    "constant_bound",
    "inv_sqrt_bound",
    "sum_inv_sqrt",
    "project_ball",
    "project_box",
    "logistic_loss_grad",
    "absolute_loss_grad",
    "linear_loss_grad",
    "on_dataset",
    "draw_counts",
    "SGDRun",
    "projected_sgd",
    "logistic_comparator",
    "absolute_comparator",
    "orthogonal_instance",
    "loglog_slope",
    "plot_regret_band",
    "plot_slope_guide",
    "plot_bound_parts",
]

LossGrad = Callable[..., tuple[np.ndarray, np.ndarray]]


# ---------------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------------


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive finite number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return float(value)


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)


def _float_array(value, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers") from None
    return arr


def _rates(lrs, name: str = "lrs") -> np.ndarray:
    """Learning rates as a float array, time on the last axis; all finite and > 0."""
    arr = _float_array(lrs, name)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one step on its last axis, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be positive and finite (eta_t > 0 in eq. 3)")
    return arr


def _is_non_increasing(lrs: np.ndarray) -> bool:
    return bool(np.all(np.diff(lrs, axis=-1) <= 0))


# ---------------------------------------------------------------------------------------------
# the bound (4) and its pieces
# ---------------------------------------------------------------------------------------------


def regret_bound(D, G, lrs, *, average: bool = True, check_monotone: bool = True) -> np.ndarray:
    """Right side of eq. (4): ``D^2/(2 T eta_T) + G^2/(2T) sum_t eta_t`` (times ``T`` if not average).

    ``lrs`` has time on its last axis (shape ``(..., T)``); the result has shape ``(...)``. The
    telescoping step (14) needs non-increasing rates; other schedules raise ``ValueError`` unless
    ``check_monotone=False`` (then the formula is evaluated but proves nothing: see
    :func:`general_regret_bound`).
    """
    D, G, eta = _positive(D, "D"), _positive(G, "G"), _rates(lrs)
    if check_monotone and not _is_non_increasing(eta):
        raise ValueError(
            "lrs must be non-increasing along the last axis for eq. (4) to hold; "
            "use general_regret_bound for other schedules, or check_monotone=False"
        )
    total = D**2 / (2 * eta[..., -1]) + G**2 / 2 * eta.sum(axis=-1)
    return total / eta.shape[-1] if average else total


def general_regret_bound(D, G, lrs, *, average: bool = True) -> np.ndarray:
    """A bound valid for *any* positive schedule (the telescoping (14) without monotonicity).

    ``D^2/2 * [1/eta_1 + sum_{t>=2} max(0, 1/eta_t - 1/eta_{t-1})] + G^2/2 * sum_t eta_t``:
    in (14) the coefficient of ``||theta_t - u||^2`` is ``1/(2 eta_t) - 1/(2 eta_{t-1})``; bound it by
    ``D^2`` where it is positive and by 0 where it is negative. Equals :func:`regret_bound` for
    non-increasing rates.
    """
    D, G, eta = _positive(D, "D"), _positive(G, "G"), _rates(lrs)
    inv = 1.0 / eta
    rises = np.clip(np.diff(inv, axis=-1), 0.0, None).sum(axis=-1)
    total = D**2 / 2 * (inv[..., 0] + rises) + G**2 / 2 * eta.sum(axis=-1)
    return total / eta.shape[-1] if average else total


# ---------------------------------------------------------------------------------------------
# schedules and the closed forms (5)-(8)
# ---------------------------------------------------------------------------------------------


def optimal_eta(D, G, T) -> float:
    """The constant rate that minimises (5): ``eta = D / (G sqrt(T))``."""
    return _positive(D, "D") / (_positive(G, "G") * math.sqrt(_positive_int(T, "T")))


def optimal_alpha(D, G) -> float:
    """The ``alpha`` that minimises (8) for ``eta_t = alpha / sqrt(t)``: ``alpha = D / (sqrt(2) G)``."""
    return _positive(D, "D") / (math.sqrt(2) * _positive(G, "G"))


def constant_schedule(T, eta) -> np.ndarray:
    """``eta_t = eta`` for ``t = 1..T`` (eq. 5)."""
    return np.full(_positive_int(T, "T"), _positive(eta, "eta"))


def inv_sqrt_schedule(T, alpha) -> np.ndarray:
    """``eta_t = alpha / sqrt(t)`` for ``t = 1..T`` (eq. 8; Zinkevich's Theorem 1 has alpha = 1)."""
    t = np.arange(1, _positive_int(T, "T") + 1)
    return _positive(alpha, "alpha") / np.sqrt(t)


def linear_decay_schedule(T, eta0) -> np.ndarray:
    """``eta_t = eta0 (1 - (t-1)/T)``: linear decay to ``eta0/T`` at the last step (non-increasing)."""
    T = _positive_int(T, "T")
    return _positive(eta0, "eta0") * (1 - np.arange(T) / T)


def warmup_schedule(T, eta_max) -> np.ndarray:
    """``eta_t = eta_max t / T``: a linear warm-up over the whole run (increasing, outside (4))."""
    T = _positive_int(T, "T")
    return _positive(eta_max, "eta_max") * np.arange(1, T + 1) / T


def constant_bound(D, G, T) -> float:
    """Eq. (6): the optimum of (5), ``D G / sqrt(T)``."""
    return _positive(D, "D") * _positive(G, "G") / math.sqrt(_positive_int(T, "T"))


def inv_sqrt_bound(D, G, T, alpha, *, sharp: bool = False) -> float:
    """Eq. (8): ``D^2/(2 alpha sqrt(T)) + G^2 alpha / sqrt(T)`` (from ``sum t^{-1/2} < 2 sqrt(T)``).

    ``sharp=True`` keeps the ``-1`` of (7): ``D^2/(2 alpha sqrt(T)) + G^2 alpha (2 sqrt(T) - 1)/(2T)``.
    """
    D, G, alpha = _positive(D, "D"), _positive(G, "G"), _positive(alpha, "alpha")
    T = _positive_int(T, "T")
    first = D**2 / (2 * alpha * math.sqrt(T))
    if sharp:
        return first + G**2 * alpha * (2 * math.sqrt(T) - 1) / (2 * T)
    return first + G**2 * alpha / math.sqrt(T)


def sum_inv_sqrt(T) -> np.ndarray:
    """``S_T = sum_{t<=T} t^{-1/2}`` for ``T = 1..T`` (a cumulative sum; the object of eq. 7)."""
    return np.cumsum(1.0 / np.sqrt(np.arange(1, _positive_int(T, "T") + 1)))


# ---------------------------------------------------------------------------------------------
# projections (16)
# ---------------------------------------------------------------------------------------------


def project_ball(phi, radius, center=None) -> np.ndarray:
    """Euclidean projection onto ``{theta : ||theta - center|| <= radius}``, over the last axis."""
    phi = _float_array(phi, "phi")
    if phi.ndim == 0:
        raise ValueError("phi must have a vector axis (last axis = coordinates)")
    radius = _positive(radius, "radius")
    c = np.zeros(phi.shape[-1]) if center is None else _float_array(center, "center")
    if c.shape[-1:] != phi.shape[-1:]:
        raise ValueError(f"center has shape {c.shape}, expected last axis {phi.shape[-1]}")
    v = phi - c
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    scale = np.minimum(1.0, radius / np.maximum(norm, np.finfo(float).tiny))
    return c + v * scale


def project_box(phi, lo, hi) -> np.ndarray:
    """Euclidean projection onto the box ``lo <= theta <= hi`` (coordinate-wise clipping)."""
    phi, lo, hi = _float_array(phi, "phi"), _float_array(lo, "lo"), _float_array(hi, "hi")
    if np.any(lo > hi):
        raise ValueError("the box needs lo <= hi in every coordinate")
    return np.clip(phi, lo, hi)


# ---------------------------------------------------------------------------------------------
# batched losses: theta (S, d), one minibatch per run
# ---------------------------------------------------------------------------------------------


def logistic_loss_grad(theta, X, y) -> tuple[np.ndarray, np.ndarray]:
    """Mean logistic loss ``log(1 + exp(-y x.theta))`` over a minibatch, and its gradient.

    ``theta`` (S, d), ``X`` (S, B, d), ``y`` (S, B) in {-1, +1}. Per-sample gradients are
    ``-y sigmoid(-y x.theta) x``, of norm below ``||x||``: ``G = max ||x||``.
    """
    z = y * np.einsum("sbd,sd->sb", X, theta)
    loss = np.logaddexp(0.0, -z).mean(axis=1)
    grad = np.einsum("sb,sbd->sd", -y * special.expit(-z), X) / X.shape[1]
    return loss, grad


def absolute_loss_grad(theta, X, y) -> tuple[np.ndarray, np.ndarray]:
    """Mean absolute loss ``|x.theta - y|`` over a minibatch, and a subgradient (``sign(r) x``)."""
    r = np.einsum("sbd,sd->sb", X, theta) - y
    return np.abs(r).mean(axis=1), np.einsum("sb,sbd->sd", np.sign(r), X) / X.shape[1]


def linear_loss_grad(theta, g) -> tuple[np.ndarray, np.ndarray]:
    """Linear loss ``g.theta`` (the worst case of a convex loss, via (9)); ``g`` (S, d)."""
    return np.einsum("sd,sd->s", g, theta), np.array(g, dtype=float)


def on_dataset(loss_grad: LossGrad, X, y, datasets=None) -> LossGrad:
    """Turn a batched loss into one fed by indices: ``f(theta, idx)`` with ``idx`` (R, B) into
    data sets ``X`` (S, N, d), ``y`` (S, N). Run ``r`` reads data set ``datasets[r]`` (default:
    ``r``), so several schedules can share one data set without copying it."""
    X, y = _float_array(X, "X"), _float_array(y, "y")
    if X.ndim != 3 or y.shape != X.shape[:2]:
        raise ValueError(f"expected X (S, N, d) and y (S, N), got {X.shape} and {y.shape}")
    if datasets is None:
        datasets = np.arange(X.shape[0])
    datasets = np.asarray(datasets)
    if datasets.ndim != 1 or not np.issubdtype(datasets.dtype, np.integer):
        raise TypeError("datasets must be a 1-D array of ints (one data set index per run)")
    if datasets.size and (datasets.min() < 0 or datasets.max() >= X.shape[0]):
        raise ValueError(f"datasets must index the {X.shape[0]} data sets")
    rows = datasets[:, None]

    def f(theta, idx):
        return loss_grad(theta, X[rows, idx], y[rows, idx])

    return f


def draw_counts(idx, N) -> np.ndarray:
    """How often each of ``N`` points appears in a stream of indices ``idx`` (S, ...): (S, N)."""
    idx = np.asarray(idx)
    N = _positive_int(N, "N")
    S = idx.shape[0]
    flat = (idx.reshape(S, -1) + N * np.arange(S)[:, None]).ravel()
    return np.bincount(flat, minlength=S * N).reshape(S, N).astype(float)


# ---------------------------------------------------------------------------------------------
# the runner
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SGDRun:
    """Log of :func:`projected_sgd`; ``S`` runs of ``T`` steps.

    losses            (S, T)    ``L(x_t, theta_t)``, evaluated before step t's update
    comparator_losses (S, T)    ``L(x_t, u)`` (None without a comparator)
    post_losses       (S, T)    ``L(x_t, theta_{t+1})``, after the update (None unless asked)
    grad_sq           (S, T)    ``||g_t||^2``
    dist_sq           (S, T+1)  ``||theta_t - u||^2`` for ``t = 1..T+1`` (None without comparator)
    lrs               (S, T)    the rates used
    theta_last        (S, d)    ``theta_{T+1}``
    path              (S, T+1, d) all iterates (None unless ``keep_path``)
    """

    losses: np.ndarray
    comparator_losses: np.ndarray | None
    post_losses: np.ndarray | None
    grad_sq: np.ndarray
    dist_sq: np.ndarray | None
    lrs: np.ndarray
    theta_last: np.ndarray
    path: np.ndarray | None

    @property
    def T(self) -> int:
        return self.losses.shape[1]

    def _need_comparator(self) -> None:
        if self.comparator_losses is None:
            raise ValueError("this run was made without a comparator")

    @property
    def average_regret(self) -> np.ndarray:
        """Left side of (4) for each run: ``mean_t [L(x_t, theta_t) - L(x_t, u)]``."""
        self._need_comparator()
        return (self.losses - self.comparator_losses).mean(axis=1)

    @property
    def step_bounds(self) -> np.ndarray:
        """Right side of (12) per step, with the projected ``theta_{t+1}`` (valid by (18)):
        ``(||theta_t-u||^2 - ||theta_{t+1}-u||^2)/(2 eta_t) + eta_t ||g_t||^2 / 2``, (S, T)."""
        self._need_comparator()
        return (self.dist_sq[:, :-1] - self.dist_sq[:, 1:]) / (2 * self.lrs) + self.lrs * self.grad_sq / 2

    def trajectory_bound(self) -> np.ndarray:
        """(15)/T with the post's first, trajectory-dependent constants:
        ``D = max_{t<=T} ||theta_t - u||``, ``G = max_t ||g_t||`` (needs non-increasing rates)."""
        self._need_comparator()
        if not _is_non_increasing(self.lrs):
            raise ValueError("the trajectory bound (15) needs non-increasing rates")
        D2 = self.dist_sq[:, :-1].max(axis=1)
        G2 = self.grad_sq.max(axis=1)
        return (D2 / (2 * self.lrs[:, -1]) + G2 / 2 * self.lrs.sum(axis=1)) / self.T


def projected_sgd(
    loss_grad: LossGrad,
    stream: Sequence[np.ndarray],
    theta1,
    lrs,
    project: Callable[[np.ndarray], np.ndarray] | None = None,
    comparator=None,
    *,
    log_post_update: bool = False,
    keep_path: bool = False,
) -> SGDRun:
    """Run eq. (17), ``theta_{t+1} = project(theta_t - eta_t g(x_t, theta_t))``, for S runs at once.

    ``loss_grad(theta, *batch)`` returns the loss (S,) and a (sub)gradient (S, d) at ``theta``
    (S, d); ``batch = [a[:, t] for a in stream]``, so every array of ``stream`` has shape
    (S, T, ...). ``theta1`` is (d,) or (S, d); ``lrs`` is (T,) or (S, T) with every rate > 0
    (any order: monotonicity matters only for the bound). ``project=None`` runs plain SGD (3). With a ``comparator`` u ((d,) or (S, d)) the run
    also logs ``L(x_t, u)`` and ``||theta_t - u||^2``; the stream must not depend on the iterates
    (an oblivious, pre-drawn sequence), which is what lets ``u`` be chosen in hindsight.
    """
    if not callable(loss_grad):
        raise TypeError("loss_grad must be callable: loss_grad(theta, *batch) -> (loss, grad)")
    if isinstance(stream, np.ndarray) or not isinstance(stream, (list, tuple)) or not stream:
        raise TypeError("stream must be a non-empty list or tuple of arrays shaped (S, T, ...)")
    stream = [np.asarray(a) for a in stream]
    theta = np.array(_float_array(theta1, "theta1"), dtype=float)
    eta = _rates(lrs)
    S, T = stream[0].shape[:2] if stream[0].ndim >= 2 else (None, None)
    if S is None or any(a.ndim < 2 or a.shape[:2] != (S, T) for a in stream):
        raise ValueError("every stream array must have shape (S, T, ...) with the same S and T")
    if eta.ndim == 1:
        eta = np.broadcast_to(eta, (S, eta.shape[0]))
    if eta.shape != (S, T):
        raise ValueError(f"lrs must have shape ({T},) or ({S}, {T}), got {np.shape(lrs)}")
    if theta.ndim == 1:
        theta = np.broadcast_to(theta, (S, theta.shape[0])).copy()
    if theta.ndim != 2 or theta.shape[0] != S:
        raise ValueError(f"theta1 must have shape (d,) or ({S}, d), got {np.shape(theta1)}")
    u = None
    if comparator is not None:
        u = _float_array(comparator, "comparator")
        u = np.broadcast_to(u, theta.shape) if u.ndim == 1 else u
        if u.shape != theta.shape:
            raise ValueError(f"comparator must have shape (d,) or {theta.shape}, got {u.shape}")

    losses, grad_sq = np.empty((S, T)), np.empty((S, T))
    comp = np.empty((S, T)) if u is not None else None
    post = np.empty((S, T)) if log_post_update else None
    dist_sq = np.empty((S, T + 1)) if u is not None else None
    path = np.empty((S, T + 1, theta.shape[1])) if keep_path else None
    for t in range(T):
        batch = [a[:, t] for a in stream]
        loss, g = loss_grad(theta, *batch)
        losses[:, t], grad_sq[:, t] = loss, np.einsum("sd,sd->s", g, g)
        if u is not None:
            comp[:, t] = loss_grad(u, *batch)[0]
            dist_sq[:, t] = ((theta - u) ** 2).sum(axis=1)
        if keep_path:
            path[:, t] = theta
        theta = theta - eta[:, t : t + 1] * g
        if project is not None:
            theta = project(theta)
        if log_post_update:
            post[:, t] = loss_grad(theta, *batch)[0]
    if u is not None:
        dist_sq[:, T] = ((theta - u) ** 2).sum(axis=1)
    if keep_path:
        path[:, T] = theta
    return SGDRun(losses, comp, post, grad_sq, dist_sq, np.array(eta), theta, path)


# ---------------------------------------------------------------------------------------------
# comparators: the best fixed point in hindsight, certified or exact
# ---------------------------------------------------------------------------------------------


def logistic_comparator(X, y, weights, radius, *, tol: float = 1e-10, max_iters: int = 5000):
    """Minimise ``F(theta) = sum_i w_i log(1+exp(-y_i x_i.theta)) / sum_i w_i`` over the ball
    ``||theta|| <= radius`` for S problems at once (FISTA with step ``1/L``, ``L = lambda_max(
    sum_i w_i x_i x_i^T / sum w) / 4``), until every run's Frank-Wolfe gap is below ``tol``.

    Returns ``(theta, F(theta), gap)``: ``gap = <grad F, theta> + radius ||grad F||`` is a
    certificate, ``F(theta) - min F <= gap``; add it to a regret measured against ``theta`` to get
    an upper bound on the regret against the true minimiser.
    """
    X, y, w = _float_array(X, "X"), _float_array(y, "y"), _float_array(weights, "weights")
    radius, tol = _positive(radius, "radius"), _positive(tol, "tol")
    if X.ndim != 3 or y.shape != X.shape[:2] or w.shape != y.shape:
        raise ValueError("expected X (S, N, d), y (S, N), weights (S, N)")
    if np.any(w < 0) or np.any(w.sum(axis=1) <= 0):
        raise ValueError("weights must be non-negative with a positive sum per run")
    w = w / w.sum(axis=1, keepdims=True)
    Xt = np.swapaxes(X, 1, 2)  # (S, d, N)

    def grad(th):
        z = y * (X @ th[:, :, None])[:, :, 0]
        return (Xt @ (-w * y * special.expit(-z))[:, :, None])[:, :, 0]

    def fw_gap(th):
        g = grad(th)
        return np.maximum(np.einsum("sd,sd->s", g, th) + radius * np.linalg.norm(g, axis=1), 0.0)

    L = np.linalg.eigvalsh(Xt @ (w[:, :, None] * X))[:, -1] / 4
    step = 1.0 / np.maximum(L, 1e-12)[:, None]
    theta = np.zeros((X.shape[0], X.shape[2]))
    z, tk = theta.copy(), 1.0
    for k in range(1, _positive_int(max_iters, "max_iters") + 1):
        new = project_ball(z - step * grad(z), radius)
        tk1 = (1 + math.sqrt(1 + 4 * tk * tk)) / 2
        z = new + (tk - 1) / tk1 * (new - theta)
        theta, tk = new, tk1
        if k % 25 == 0 and fw_gap(theta).max() < tol:
            break
    value = (w * np.logaddexp(0.0, -y * (X @ theta[:, :, None])[:, :, 0])).sum(axis=1)
    return theta, value, fw_gap(theta)


def absolute_comparator(X, y, weights, lo, hi):
    """Exact ``argmin_{lo <= theta <= hi} sum_i w_i |x_i.theta - y_i| / sum_i w_i`` by linear
    programming (HiGHS via ``scipy.optimize.linprog``), one LP per run.

    Variables ``(theta, r)``; minimise ``w.r`` subject to ``-r <= X theta - y <= r``. Points
    with zero weight are dropped. Returns ``(theta (S, d), value (S,))``.
    """
    X, y, w = _float_array(X, "X"), _float_array(y, "y"), _float_array(weights, "weights")
    if X.ndim != 3 or y.shape != X.shape[:2] or w.shape != y.shape:
        raise ValueError("expected X (S, N, d), y (S, N), weights (S, N)")
    if np.any(w < 0) or np.any(w.sum(axis=1) <= 0):
        raise ValueError("weights must be non-negative with a positive sum per run")
    S, _, d = X.shape
    lo_b = np.broadcast_to(_float_array(lo, "lo"), (d,))
    hi_b = np.broadcast_to(_float_array(hi, "hi"), (d,))
    thetas, values = np.empty((S, d)), np.empty(S)
    for s in range(S):
        keep = w[s] > 0
        Xs, ys, ws = X[s, keep], y[s, keep], w[s, keep] / w[s].sum()
        n = len(ys)
        eye = sparse.identity(n, format="csr")
        A = sparse.bmat([[sparse.csr_matrix(Xs), -eye], [sparse.csr_matrix(-Xs), -eye]], format="csr")
        b = np.concatenate([ys, -ys])
        c = np.concatenate([np.zeros(d), ws])
        bounds = [(lo_b[j], hi_b[j]) for j in range(d)] + [(0, None)] * n
        res = optimize.linprog(c, A_ub=A, b_ub=b, bounds=bounds, method="highs")
        if res.status != 0:  # pragma: no cover - the LP is always feasible and bounded
            raise RuntimeError(f"linprog failed on run {s}: {res.message}")
        thetas[s] = res.x[:d]
        values[s] = np.abs(Xs @ thetas[s] - ys) @ ws
    return thetas, values


# ---------------------------------------------------------------------------------------------
# a worst case: orthogonal gradients attain (6)
# ---------------------------------------------------------------------------------------------


def orthogonal_instance(T, D=1.0, G=1.0) -> tuple[np.ndarray, np.ndarray]:
    """Linear losses ``L_t(theta) = G e_t . theta`` in ``R^T`` and the rate ``eta = D/(G sqrt T)``.

    Returns ``(grads, lrs)``, ``grads`` (1, T, T) (a stream for :func:`linear_loss_grad`) and ``lrs``
    (T,). From ``theta_1 = 0`` the iterates are ``theta_t = -eta G (e_1 + ... + e_{t-1})``; their
    convex hull has diameter ``eta G sqrt(T) = D``, contains every iterate (so projecting onto it
    does nothing), and its best point in hindsight is ``theta_{T+1}``: the average regret is
    ``D G / sqrt(T)``, exactly the bound (6).
    """
    T = _positive_int(T, "T")
    D, G = _positive(D, "D"), _positive(G, "G")
    return G * np.eye(T)[None], constant_schedule(T, optimal_eta(D, G, T))


def loglog_slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (both positive)."""
    x, y = _float_array(x, "x"), _float_array(y, "y")
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError("x and y must be 1-D of the same length >= 2")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x and y must be positive for a log-log fit")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


# ---------------------------------------------------------------------------------------------
# plotting helpers for the bound figures
# ---------------------------------------------------------------------------------------------


def plot_regret_band(ax: "Axes", T, regrets, *, label: str, color: str, marker: str = "o") -> "Axes":
    """Mean average regret over runs against ``T`` (log-log), with a min-max band.

    ``regrets`` has shape (len(T), S): one row per horizon, one column per run.
    """
    T, R = _float_array(T, "T"), _float_array(regrets, "regrets")
    if R.ndim != 2 or R.shape[0] != T.shape[0]:
        raise ValueError(f"regrets must have shape ({T.shape[0]}, S), got {R.shape}")
    ax.fill_between(T, R.min(axis=1), R.max(axis=1), color=color, alpha=0.2, lw=0)
    ax.plot(T, R.mean(axis=1), marker=marker, color=color, label=label, ms=4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    return ax


def plot_slope_guide(ax: "Axes", T, y0: float, slope: float = -0.5, *, label: str | None = None) -> "Axes":
    """A dotted reference line ``y0 (T/T_0)^slope`` over the range of ``T``."""
    T = _float_array(T, "T")
    ax.plot(T, y0 * (T / T[0]) ** slope, ":", color="0.4", lw=1, label=label)
    return ax


def plot_bound_parts(ax: "Axes", names: Sequence[str], parts: dict, *, log: bool = True) -> "Axes":
    """Grouped bars: one group per schedule in ``names``, one bar per entry of ``parts``
    (``{label: values}``, each of length ``len(names)``), e.g. the two terms of (4) next to what
    the run actually realised."""
    width = 0.8 / max(len(parts), 1)
    x = np.arange(len(names))
    for k, (label, values) in enumerate(parts.items()):
        values = _float_array(values, label)
        if values.shape != (len(names),):
            raise ValueError(f"{label}: expected {len(names)} values, got shape {values.shape}")
        ax.bar(x + (k - (len(parts) - 1) / 2) * width, values, width, label=label)
    ax.set_xticks(x, names)
    if log:
        ax.set_yscale("log")
    return ax
