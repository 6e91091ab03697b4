"""Projected SGD and its average-regret bound (notebook 04; Zinkevich 2003, Theorem 1).

The post's main result, eq. (4): for losses convex in theta, gradients bounded by ``G``, a closed
convex domain of diameter ``D`` that contains ``theta_1``, and non-increasing rates
``eta_1 >= ... >= eta_T > 0``, projected SGD ``theta_{t+1} = Pi(theta_t - eta_t g_t)`` (eq. 17)
satisfies, for every comparator ``u`` in the domain and every data sequence,

    (1/T) sum_t L(x_t, theta_t) - (1/T) sum_t L(x_t, u)
        <= D^2 / (2 T eta_T) + G^2 / (2T) * sum_t eta_t.                        (4)

Conventions. "Regret" below is the post's *average* regret (the left side of (4)); the sum, as in
Zinkevich, Orabona and Hazan, is ``T`` times it (``average=False``). Learning-rate schedules are
arrays whose last axis is time; leading axes are independent runs (seeds, schedules). Iterates
have shape ``(S, d)``: ``S`` runs advanced together, one row each. The loss of step ``t`` is
logged at ``theta_t``, *before* the update that uses ``x_t`` (the order the bound is about).

Arguments are checked by :mod:`helpers._validate` (real floats only, no NaN, sizes through
``operator.index``, memory budgets before large allocations); errors are ValueError/TypeError
naming the argument. Torch tensors are accepted where arrays are and converted with
``.detach()`` to float64 numpy arrays (this is a numpy module: results are numpy arrays).

Contents: the bound and a version valid for any positive schedule; schedules and their closed
forms (6), (8); projections onto a ball and a box; batched losses (logistic, absolute, linear)
with their (sub)gradients; the runner :func:`projected_sgd` and its log :class:`SGDRun`, and the
adaptive AdaGrad-norm runner :func:`adagrad_norm_sgd`; exact or certified comparators (FISTA with
a Frank-Wolfe gap on a ball, an LP for the absolute loss); the orthogonal-gradient instance that
attains (6); the last-iterate bound of Shamir and Zhang (2013); the minibatch second moment;
plotting helpers for the bound figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from helpers._validate import check_memory, real_array, real_scalar, size

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "LossGrad",
    "MAX_STEPS",
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
    "adagrad_norm_bound",
    "last_iterate_bound",
    "minibatch_second_moment",
    "project_ball",
    "project_box",
    "logistic_loss_grad",
    "absolute_loss_grad",
    "linear_loss_grad",
    "on_dataset",
    "draw_counts",
    "SGDRun",
    "projected_sgd",
    "adagrad_norm_sgd",
    "logistic_comparator",
    "absolute_comparator",
    "orthogonal_instance",
    "loglog_slope",
    "plot_regret_band",
    "plot_slope_guide",
    "plot_bound_parts",
]

LossGrad = Callable[..., tuple[np.ndarray, np.ndarray]]
"""``loss_grad(theta (S, d), *batch) -> (loss (S,), grad (S, d))``."""

MAX_STEPS = 10**8
"""The most steps (``T``) and iterations a function accepts; larger sizes fail before running."""


# ---------------------------------------------------------------------------------------------
# small checks that helpers._validate does not cover
# ---------------------------------------------------------------------------------------------


def _positive(x: Any, name: str) -> float:
    return real_scalar(x, name, low=0.0, low_open=True)


def _flag(x: Any, name: str) -> bool:
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {type(x).__name__}")
    return bool(x)


def _rates(lrs: Any, name: str = "lrs") -> np.ndarray:
    """Learning rates, time on the last axis, all finite and > 0 (eta_t > 0 in eq. 3)."""
    arr = real_array(lrs, name, min_ndim=1, low=0.0, low_open=True)
    if arr.shape[-1] == 0:
        raise ValueError(f"{name}: expected at least one step on the last axis, got shape {arr.shape}")
    return arr


def _is_non_increasing(lrs: np.ndarray) -> bool:
    return bool(np.all(np.diff(lrs, axis=-1) <= 0))


def _finite_or_raise(value: Any, names: str, what: str) -> Any:
    """``value`` if finite, else ValueError naming the arguments that made it overflow."""
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{names}: {what} overflows float64 (the result would exceed 1.8e308)")
    return value


def _steps(T: Any, name: str = "T") -> int:
    T = size(T, name, low=1, high=MAX_STEPS)
    check_memory(8.0 * T, name)
    return T


def _stable_sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` without overflow: ``exp(-log(1 + exp(-z)))``."""
    return np.exp(-np.logaddexp(0.0, -z))


def _check_axes(ax: Any) -> None:
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"ax: expected a matplotlib Axes, got {type(ax).__name__}")


def _check_label(label: Any, name: str, *, optional: bool = False) -> None:
    if optional and label is None:
        return
    if not isinstance(label, str):
        raise TypeError(f"{name}: expected a string, got {type(label).__name__}")


# ---------------------------------------------------------------------------------------------
# the bound (4) and its pieces
# ---------------------------------------------------------------------------------------------


def regret_bound(D: float, G: float, lrs: Any, *, average: bool = True,
                 check_monotone: bool = True) -> np.ndarray:
    """Right side of eq. (4) of notebook 04: ``D^2/(2 T eta_T) + G^2/(2T) sum_t eta_t`` (times
    ``T`` if not ``average``).

    ``lrs`` has time on its last axis (shape ``(..., T)``); the result has shape ``(...)``. The
    telescoping step (14) needs non-increasing rates; other schedules raise unless
    ``check_monotone=False`` (then the formula is evaluated but proves nothing: see
    :func:`general_regret_bound`).

    Raises: TypeError for non-real input; ValueError for ``D, G <= 0``, a non-positive or
    non-finite rate, an increasing schedule, or a bound beyond the float range.
    """
    D, G, eta = _positive(D, "D"), _positive(G, "G"), _rates(lrs)
    average, check_monotone = _flag(average, "average"), _flag(check_monotone, "check_monotone")
    if check_monotone and not _is_non_increasing(eta):
        raise ValueError(
            "lrs: expected non-increasing rates along the last axis for eq. (4) to hold; "
            "use general_regret_bound for other schedules, or check_monotone=False"
        )
    with np.errstate(over="ignore", divide="ignore"):
        total = D**2 / (2 * eta[..., -1]) + G**2 / 2 * eta.sum(axis=-1) if math.isfinite(D * D * G * G) \
            else np.full(eta.shape[:-1], np.inf)
    _finite_or_raise(total, "D, G or lrs", "the bound (4)")
    return total / eta.shape[-1] if average else total


def general_regret_bound(D: float, G: float, lrs: Any, *, average: bool = True) -> np.ndarray:
    """A bound valid for *any* positive schedule (exercise (a) of notebook 04: the telescoping
    (14a) without monotonicity).

    ``D^2/2 * [1/eta_1 + sum_{t>=2} max(0, 1/eta_t - 1/eta_{t-1})] + G^2/2 * sum_t eta_t``:
    in (14a) the coefficient of ``||theta_t - u||^2`` is ``1/(2 eta_t) - 1/(2 eta_{t-1})``; bound it by
    ``D^2`` where it is positive and by 0 where it is negative. Equals :func:`regret_bound` for
    non-increasing rates.

    Raises: TypeError for non-real input; ValueError for ``D, G <= 0``, a bad rate, or overflow.
    """
    D, G, eta = _positive(D, "D"), _positive(G, "G"), _rates(lrs)
    average = _flag(average, "average")
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        inv = 1.0 / eta
        rises = np.clip(np.diff(inv, axis=-1), 0.0, None).sum(axis=-1)
        total = D**2 / 2 * (inv[..., 0] + rises) + G**2 / 2 * eta.sum(axis=-1) if math.isfinite(D * D * G * G) \
            else np.full(eta.shape[:-1], np.inf)
    _finite_or_raise(total, "D, G or lrs", "the general bound")
    return total / eta.shape[-1] if average else total


# ---------------------------------------------------------------------------------------------
# schedules and the closed forms (5)-(8)
# ---------------------------------------------------------------------------------------------


def optimal_eta(D: float, G: float, T: int) -> float:
    """The constant rate that minimises (5) of notebook 04: ``eta = D / (G sqrt(T))``.

    Raises: TypeError/ValueError for non-positive ``D``, ``G`` or a ``T`` that is not a size.
    """
    D, G, T = _positive(D, "D"), _positive(G, "G"), size(T, "T", high=MAX_STEPS)
    return _finite_or_raise(D / G / math.sqrt(T), "D or G", "D / (G sqrt T)")


def optimal_alpha(D: float, G: float) -> float:
    """The ``alpha`` that minimises (8) of notebook 04 for ``eta_t = alpha / sqrt(t)``:
    ``alpha = D / (sqrt(2) G)``.

    Raises: TypeError/ValueError for non-positive ``D`` or ``G``.
    """
    D, G = _positive(D, "D"), _positive(G, "G")
    return _finite_or_raise(D / G / math.sqrt(2), "D or G", "D / (sqrt(2) G)")


def constant_schedule(T: int, eta: float) -> np.ndarray:
    """``eta_t = eta`` for ``t = 1..T`` (eq. 5 of notebook 04).

    Raises: TypeError/ValueError for a bad size ``T`` (or one beyond the memory budget) or ``eta <= 0``.
    """
    T, eta = _steps(T), _positive(eta, "eta")
    return np.full(T, eta)


def inv_sqrt_schedule(T: int, alpha: float) -> np.ndarray:
    """``eta_t = alpha / sqrt(t)`` for ``t = 1..T`` (eq. 8 of notebook 04; Zinkevich's Theorem 1
    has alpha = 1).

    Raises: TypeError/ValueError for a bad size ``T`` or ``alpha <= 0``.
    """
    T, alpha = _steps(T), _positive(alpha, "alpha")
    return alpha / np.sqrt(np.arange(1, T + 1))


def linear_decay_schedule(T: int, eta0: float) -> np.ndarray:
    """``eta_t = eta0 (1 - (t-1)/T)``: linear decay to ``eta0/T`` at the last step (non-increasing;
    the "practice" table of notebook 04).

    Raises: TypeError/ValueError for a bad size ``T`` or ``eta0 <= 0``.
    """
    T, eta0 = _steps(T), _positive(eta0, "eta0")
    return eta0 * (1 - np.arange(T) / T)


def warmup_schedule(T: int, eta_max: float) -> np.ndarray:
    """``eta_t = eta_max t / T``: a linear warm-up over the whole run (increasing, outside (4)).

    Raises: TypeError/ValueError for a bad size ``T`` or ``eta_max <= 0``.
    """
    T, eta_max = _steps(T), _positive(eta_max, "eta_max")
    return eta_max * np.arange(1, T + 1) / T


def constant_bound(D: float, G: float, T: int) -> float:
    """Eq. (6) of notebook 04: the optimum of (5), ``D G / sqrt(T)``.

    Raises: TypeError/ValueError for non-positive ``D``, ``G``, a bad ``T``, or overflow.
    """
    D, G, T = _positive(D, "D"), _positive(G, "G"), size(T, "T", high=MAX_STEPS)
    return _finite_or_raise(D * G / math.sqrt(T), "D or G", "D G / sqrt(T)")


def inv_sqrt_bound(D: float, G: float, T: int, alpha: float, *, sharp: bool = False) -> float:
    """Eq. (8) of notebook 04: ``D^2/(2 alpha sqrt(T)) + G^2 alpha / sqrt(T)`` (from
    ``sum t^{-1/2} < 2 sqrt(T)``). ``sharp=True`` keeps the ``-1`` of (7):
    ``D^2/(2 alpha sqrt(T)) + G^2 alpha (2 sqrt(T) - 1)/(2T)``.

    Raises: TypeError/ValueError for non-positive ``D``, ``G``, ``alpha``, a bad ``T``, or overflow.
    """
    D, G, alpha = _positive(D, "D"), _positive(G, "G"), _positive(alpha, "alpha")
    T, sharp = size(T, "T", high=MAX_STEPS), _flag(sharp, "sharp")
    with np.errstate(over="ignore"):
        first = np.float64(D) ** 2 / (2 * alpha * math.sqrt(T))
        second = np.float64(G) ** 2 * alpha * ((2 * math.sqrt(T) - 1) / (2 * T) if sharp else 1 / math.sqrt(T))
        value = float(first + second)
    return _finite_or_raise(value, "D, G or alpha", "the bound (8)")


def sum_inv_sqrt(T: int) -> np.ndarray:
    """``S_T = sum_{t<=T} t^{-1/2}`` for ``T = 1..T`` (a cumulative sum; the object of eq. 7 of
    notebook 04).

    Raises: TypeError/ValueError for a bad size ``T``.
    """
    return np.cumsum(1.0 / np.sqrt(np.arange(1, _steps(T) + 1)))


def adagrad_norm_bound(D: float, grad_sq: Any, *, average: bool = True) -> np.ndarray:
    """The data-dependent bound of AdaGrad-norm ("Beyond the post" in notebook 04):
    with ``eta_t = D / sqrt(2 sum_{s<=t} ||g_s||^2)`` the summed regret is at most
    ``sqrt(2) D sqrt(sum_t ||g_t||^2)`` (divided by ``T`` if ``average``).

    ``grad_sq`` (..., T) holds the realised ``||g_t||^2``; the result has shape ``(...)``.

    Raises: TypeError for non-real input; ValueError for ``D <= 0``, negative ``grad_sq``, overflow.
    """
    D, average = _positive(D, "D"), _flag(average, "average")
    g2 = real_array(grad_sq, "grad_sq", min_ndim=1, low=0.0)
    if g2.shape[-1] == 0:
        raise ValueError(f"grad_sq: expected at least one step on the last axis, got shape {g2.shape}")
    with np.errstate(over="ignore"):
        total = math.sqrt(2) * D * np.sqrt(g2.sum(axis=-1))
    _finite_or_raise(total, "D or grad_sq", "the AdaGrad-norm bound")
    return total / g2.shape[-1] if average else total


def last_iterate_bound(D: float, G: float, T: int, c: float) -> float:
    """Shamir & Zhang (2013), Theorem 2 ("Beyond the post" in notebook 04): projected SGD with
    ``eta_t = c / sqrt(t)`` on a convex domain of diameter ``D``, with ``E ||g_t||^2 <= G^2``, has
    ``E[F(theta_T) - F(theta*)] <= (D^2 / c + c G^2) (2 + log T) / sqrt(T)`` for ``T > 1``.

    Raises: TypeError/ValueError for non-positive ``D``, ``G``, ``c``, ``T < 2``, or overflow.
    """
    D, G, c = _positive(D, "D"), _positive(G, "G"), _positive(c, "c")
    T = size(T, "T", low=2, high=MAX_STEPS)
    with np.errstate(over="ignore"):
        value = float((np.float64(D) ** 2 / c + c * np.float64(G) ** 2) * (2 + math.log(T)) / math.sqrt(T))
    return _finite_or_raise(value, "D, G or c", "the last-iterate bound")


def minibatch_second_moment(per_sample_grads: Any, B: int) -> np.ndarray:
    """``E ||mean of B i.i.d. draws||^2 = ||mu||^2 + (m2 - ||mu||^2) / B`` (notebook 04, "Beyond
    the post"): ``mu`` the mean per-sample gradient, ``m2`` the mean of ``||g_i||^2``, draws with
    replacement from the ``N`` per-sample gradients ``per_sample_grads`` (..., N, d).
    The variance term ``(m2 - ||mu||^2) / B = sigma^2 / B`` is what a larger minibatch lowers.

    Raises: TypeError for non-real input; ValueError for fewer than 2 dimensions, no samples,
    or a bad size ``B``.
    """
    g = real_array(per_sample_grads, "per_sample_grads", min_ndim=2)
    B = size(B, "B", high=MAX_STEPS)
    if g.shape[-2] == 0:
        raise ValueError(f"per_sample_grads: expected at least one sample, got shape {g.shape}")
    scale = np.abs(g).max() if g.size else 0.0
    scale = scale if scale > 0 else 1.0
    gs = g / scale  # overflow-safe: the squares are formed on O(1) numbers
    mu2 = (gs.mean(axis=-2) ** 2).sum(axis=-1)
    m2 = (gs**2).sum(axis=-1).mean(axis=-1)
    with np.errstate(over="ignore"):
        out = (mu2 + np.maximum(m2 - mu2, 0.0) / B) * scale**2
    return _finite_or_raise(out, "per_sample_grads", "the second moment")


# ---------------------------------------------------------------------------------------------
# projections (16)
# ---------------------------------------------------------------------------------------------


def project_ball(phi: Any, radius: float, center: Any = None) -> np.ndarray:
    """Euclidean projection (16) of notebook 04 onto ``{theta : ||theta - center|| <= radius}``,
    over the last axis. Norms are formed after scaling by the largest entry, so inputs near the
    float range (``[3e200, 4e200]``) project correctly.

    Raises: TypeError for non-real input; ValueError for NaN/inf, a 0-d ``phi``, ``radius <= 0``,
    or a ``center`` whose last axis differs from ``phi``'s.
    """
    fast = isinstance(phi, np.ndarray) and phi.dtype == np.float64 and phi.ndim >= 1 and center is None
    phi = phi if fast and np.isfinite(phi).all() else real_array(phi, "phi", min_ndim=1)
    radius = _positive(radius, "radius")
    if center is None:  # the runner's hot path: no centre, no copy
        v, c = phi, 0.0
    else:
        c = real_array(center, "center", min_ndim=1)
        if c.shape[-1:] != phi.shape[-1:]:
            raise ValueError(f"center: expected the last axis of phi ({phi.shape[-1]}), got shape {c.shape}")
        try:
            np.broadcast_shapes(c.shape, phi.shape)
        except ValueError:
            raise ValueError(f"center: shape {c.shape} does not broadcast against phi {phi.shape}") from None
        with np.errstate(over="ignore", invalid="ignore"):
            v = phi - c
        if not np.all(np.isfinite(v)):
            raise ValueError("phi: phi - center overflows float64")
    if v.size == 0:
        return np.array(c + v, dtype=float)
    if np.abs(v).max() < 1e150:  # squares cannot overflow
        norm = np.sqrt(np.einsum("...i,...i->...", v, v))[..., None]
        return c + v * np.minimum(1.0, radius / np.maximum(norm, np.finfo(float).tiny))
    m = np.abs(v).max(axis=-1, keepdims=True)  # scale first: ||v|| = m ||v / m||, without overflow
    safe = np.where(m > 0, m, 1.0)
    unit_norm = np.sqrt(((v / safe) ** 2).sum(axis=-1, keepdims=True))
    norm = m * unit_norm
    inside = norm <= radius
    scaled = (v / safe) * (radius / np.where(inside, 1.0, unit_norm))
    return np.where(inside, c + v, c + scaled)


def project_box(phi: Any, lo: Any, hi: Any) -> np.ndarray:
    """Euclidean projection onto the box ``lo <= theta <= hi`` (coordinate-wise clipping; the
    box of notebook 04's absolute-loss problem). Infinite bounds are allowed (a half-open box).

    Raises: TypeError for non-real input; ValueError for NaN, inf in ``phi``, ``lo > hi``, or
    shapes that do not broadcast.
    """
    phi = real_array(phi, "phi")
    lo, hi = real_array(lo, "lo", allow_inf=True), real_array(hi, "hi", allow_inf=True)
    for name, b in (("lo", lo), ("hi", hi)):
        try:
            np.broadcast_shapes(b.shape, phi.shape)
        except ValueError:
            raise ValueError(f"{name}: shape {b.shape} does not broadcast against phi {phi.shape}") from None
    if np.any(lo > hi):
        raise ValueError("lo: the box needs lo <= hi in every coordinate")
    return np.clip(phi, lo, hi)


# ---------------------------------------------------------------------------------------------
# batched losses: theta (S, d), one minibatch per run
# ---------------------------------------------------------------------------------------------


def _batch(theta: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    theta = real_array(theta, "theta", ndim=2)
    X, y = real_array(X, "X", ndim=3), real_array(y, "y", ndim=2)
    S, d = theta.shape
    if X.shape[0] != S or X.shape[2] != d:
        raise ValueError(f"X: expected shape ({S}, B, {d}) for theta of shape {theta.shape}, got {X.shape}")
    if y.shape != X.shape[:2]:
        raise ValueError(f"y: expected shape {X.shape[:2]}, got {y.shape}")
    if X.shape[1] == 0:
        raise ValueError("X: expected a minibatch of at least one point")
    return theta, X, y


def _logistic_core(theta, X, y):
    z = y * np.einsum("sbd,sd->sb", X, theta)
    return np.logaddexp(0.0, -z).mean(axis=1), np.einsum("sb,sbd->sd", -y * _stable_sigmoid(-z), X) / X.shape[1]


def _absolute_core(theta, X, y):
    r = np.einsum("sbd,sd->sb", X, theta) - y
    return np.abs(r).mean(axis=1), np.einsum("sb,sbd->sd", np.sign(r), X) / X.shape[1]


def logistic_loss_grad(theta: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean logistic loss ``log(1 + exp(-y x.theta))`` over a minibatch, and its gradient
    (Step 2 and the logistic problem of notebook 04).

    ``theta`` (S, d), ``X`` (S, B, d), ``y`` (S, B) in {-1, +1}. Per-sample gradients are
    ``-y sigmoid(-y x.theta) x``, of norm below ``||x||``: ``G = max ||x||``.

    Raises: TypeError for non-real input; ValueError for NaN/inf, bad shapes, labels not +-1, or overflow.
    """
    theta, X, y = _batch(theta, X, y)
    if not np.all(np.abs(y) == 1):
        raise ValueError("y: expected labels -1 or +1")
    with np.errstate(over="ignore", invalid="ignore"):
        z = y * np.einsum("sbd,sd->sb", X, theta)
    _finite_or_raise(z, "theta or X", "x . theta")
    loss = np.logaddexp(0.0, -z).mean(axis=1)
    grad = np.einsum("sb,sbd->sd", -y * _stable_sigmoid(-z), X) / X.shape[1]
    return loss, grad


def absolute_loss_grad(theta: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean absolute loss ``|x.theta - y|`` over a minibatch, and a subgradient (``sign(r) x``;
    the absolute-loss problem of notebook 04).

    Raises: TypeError for non-real input; ValueError for NaN/inf, bad shapes, or overflow.
    """
    theta, X, y = _batch(theta, X, y)
    with np.errstate(over="ignore", invalid="ignore"):
        r = np.einsum("sbd,sd->sb", X, theta) - y
    _finite_or_raise(r, "theta, X or y", "the residual x . theta - y")
    return np.abs(r).mean(axis=1), np.einsum("sb,sbd->sd", np.sign(r), X) / X.shape[1]


def linear_loss_grad(theta: Any, g: Any) -> tuple[np.ndarray, np.ndarray]:
    """Linear loss ``g.theta`` (the worst case of a convex loss, via (9) of notebook 04);
    ``theta`` and ``g`` (S, d).

    Raises: TypeError for non-real input; ValueError for NaN/inf, shapes that differ, or overflow.
    """
    theta, g = real_array(theta, "theta", ndim=2), real_array(g, "g", ndim=2)
    if g.shape != theta.shape:
        raise ValueError(f"g: expected the shape of theta {theta.shape}, got {g.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        loss = np.einsum("sd,sd->s", g, theta)
    return _finite_or_raise(loss, "theta or g", "g . theta"), g


def on_dataset(loss_grad: LossGrad, X: Any, y: Any, datasets: Any = None) -> LossGrad:
    """Turn a batched loss into one fed by indices: ``f(theta, idx)`` with ``idx`` (R, B) into
    data sets ``X`` (S, N, d), ``y`` (S, N). Run ``r`` reads data set ``datasets[r]`` (default:
    ``r``), so several schedules can share one data set without copying it (notebook 04's runs).

    Raises: TypeError for a non-callable ``loss_grad``, non-real data or non-integer
    ``datasets``; ValueError for bad shapes or out-of-range indices (also, in ``f``, for ``idx``).
    """
    if not callable(loss_grad):
        raise TypeError("loss_grad: expected a callable loss_grad(theta, *batch) -> (loss, grad)")
    X, y = real_array(X, "X", ndim=3), real_array(y, "y", ndim=2)
    if y.shape != X.shape[:2]:
        raise ValueError(f"y: expected shape {X.shape[:2]} to match X (S, N, d) = {X.shape}")
    S, N = X.shape[:2]
    if datasets is None:
        datasets = np.arange(S)
    datasets = _indices(datasets, "datasets", S, ndim=1)
    rows = datasets[:, None]
    labels_ok = bool(np.all(np.abs(y) == 1))
    # the runner's hot loop: our own losses run unchecked on data checked here (theta is checked by the core's
    # caller or comes from the runner); any other loss_grad gets the batch as it is
    core = {logistic_loss_grad: _logistic_core if labels_ok else None, absolute_loss_grad: _absolute_core}.get(loss_grad)

    def f(theta, idx):
        if not (isinstance(idx, np.ndarray) and idx.ndim == 2 and np.issubdtype(idx.dtype, np.integer)
                and idx.size and 0 <= idx.min() and idx.max() < N):
            idx = _indices(idx, "idx", N, ndim=2)
        if idx.shape[0] != rows.shape[0]:
            raise ValueError(f"idx: expected {rows.shape[0]} rows (one per run), got shape {idx.shape}")
        if core is not None and isinstance(theta, np.ndarray) and theta.dtype == np.float64 \
                and theta.shape == (rows.shape[0], X.shape[2]) and np.isfinite(theta).all():
            return core(theta, X[rows, idx], y[rows, idx])
        return loss_grad(theta, X[rows, idx], y[rows, idx])

    return f


def _indices(idx: Any, name: str, n: int, *, ndim: int | None = None, min_ndim: int = 0) -> np.ndarray:
    """An integer array with values in [0, n)."""
    if isinstance(idx, (str, bytes)) or idx is None:
        raise TypeError(f"{name}: expected an array of integer indices, got {type(idx).__name__}")
    if hasattr(idx, "detach"):
        if idx.is_floating_point() or idx.is_complex():
            raise TypeError(f"{name}: expected integer indices, got a tensor of dtype {idx.dtype}")
        idx = idx.detach().cpu().numpy()
    arr = np.asarray(idx)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name}: expected integer indices, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimension(s), got shape {arr.shape}")
    if arr.ndim < min_ndim:
        raise ValueError(f"{name}: expected at least {min_ndim} dimension(s), got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"{name}: expected indices in [0, {n}), got values in [{arr.min()}, {arr.max()}]")
    return arr.astype(np.intp)


def draw_counts(idx: Any, N: int) -> np.ndarray:
    """How often each of ``N`` points appears in a stream of indices ``idx`` (S, ...): (S, N)
    (the weights of the hindsight comparator in notebook 04).

    Raises: TypeError for non-integer ``idx`` or ``N``; ValueError for indices outside [0, N),
    a 0-d ``idx``, or an (S, N) result beyond the memory budget.
    """
    N = size(N, "N")
    if isinstance(idx, (str, bytes)) or idx is None:
        raise TypeError(f"idx: expected an array of integer indices, got {type(idx).__name__}")
    S = np.shape(idx)[0] if np.ndim(idx) >= 1 else 0
    check_memory(8.0 * max(S, 1) * N, "N")
    idx = _indices(idx, "idx", N, min_ndim=1)
    flat = (idx.reshape(S, -1) + N * np.arange(S)[:, None]).ravel()
    return np.bincount(flat, minlength=S * N).reshape(S, N).astype(float)


# ---------------------------------------------------------------------------------------------
# the runner
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SGDRun:
    """Log of :func:`projected_sgd`; ``S`` runs of ``T`` steps (notebook 04).

    losses            (S, T)    ``L(x_t, theta_t)``, evaluated before step t's update
    comparator_losses (S, T)    ``L(x_t, u)`` (None without a comparator)
    post_losses       (S, T)    ``L(x_t, theta_{t+1})``, after the update (None unless asked)
    grad_sq           (S, T)    ``||g_t||^2``
    dist_sq           (S, T+1)  ``||theta_t - u||^2`` for ``t = 1..T+1`` (None without comparator)
    lrs               (S, T)    the rates used
    theta_last        (S, d)    ``theta_{T+1}``
    path              (S, T+1, d) all iterates (None unless ``keep_path``)

    Raises (on construction): TypeError for non-real fields; ValueError for NaN/inf or shapes
    that disagree.
    """

    losses: np.ndarray
    comparator_losses: np.ndarray | None
    post_losses: np.ndarray | None
    grad_sq: np.ndarray
    dist_sq: np.ndarray | None
    lrs: np.ndarray
    theta_last: np.ndarray
    path: np.ndarray | None

    def __post_init__(self) -> None:
        losses = real_array(self.losses, "losses", ndim=2)
        S, T = losses.shape
        shapes = {"comparator_losses": (S, T), "post_losses": (S, T), "grad_sq": (S, T),
                  "dist_sq": (S, T + 1), "lrs": (S, T)}
        object.__setattr__(self, "losses", losses)
        for name, shape in shapes.items():
            value = getattr(self, name)
            if value is None and name in ("comparator_losses", "post_losses", "dist_sq"):
                continue
            arr = real_array(value, name, ndim=2)
            if arr.shape != shape:
                raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
            object.__setattr__(self, name, arr)
        theta = real_array(self.theta_last, "theta_last", ndim=2)
        if theta.shape[0] != S:
            raise ValueError(f"theta_last: expected {S} rows, got shape {theta.shape}")
        object.__setattr__(self, "theta_last", theta)
        if self.path is not None:
            path = real_array(self.path, "path", ndim=3)
            if path.shape != (S, T + 1, theta.shape[1]):
                raise ValueError(f"path: expected shape {(S, T + 1, theta.shape[1])}, got {path.shape}")
            object.__setattr__(self, "path", path)
        if (self.comparator_losses is None) != (self.dist_sq is None):
            raise ValueError("dist_sq: give both comparator_losses and dist_sq, or neither")

    @property
    def T(self) -> int:
        """Number of steps."""
        return self.losses.shape[1]

    def _need_comparator(self) -> None:
        if self.comparator_losses is None:
            raise ValueError("comparator: this run was made without a comparator")

    @property
    def average_regret(self) -> np.ndarray:
        """Left side of (4) for each run: ``mean_t [L(x_t, theta_t) - L(x_t, u)]``.
        Raises ValueError for a run without a comparator."""
        self._need_comparator()
        return (self.losses - self.comparator_losses).mean(axis=1)

    @property
    def step_bounds(self) -> np.ndarray:
        """Right side of (12) per step, with the projected ``theta_{t+1}`` (valid by (18)):
        ``(||theta_t-u||^2 - ||theta_{t+1}-u||^2)/(2 eta_t) + eta_t ||g_t||^2 / 2``, (S, T).
        Raises ValueError for a run without a comparator."""
        self._need_comparator()
        return (self.dist_sq[:, :-1] - self.dist_sq[:, 1:]) / (2 * self.lrs) + self.lrs * self.grad_sq / 2

    def trajectory_bound(self) -> np.ndarray:
        """(15)/T with the post's first, trajectory-dependent constants:
        ``D = max_{t<=T} ||theta_t - u||``, ``G = max_t ||g_t||``.
        Raises ValueError without a comparator or for rates that increase."""
        self._need_comparator()
        if not _is_non_increasing(self.lrs):
            raise ValueError("lrs: the trajectory bound (15) needs non-increasing rates")
        D2 = self.dist_sq[:, :-1].max(axis=1)
        G2 = self.grad_sq.max(axis=1)
        return (D2 / (2 * self.lrs[:, -1]) + G2 / 2 * self.lrs.sum(axis=1)) / self.T


def _prepare(loss_grad, stream, theta1, project, comparator, T_from_lrs=None):
    if not callable(loss_grad):
        raise TypeError("loss_grad: expected a callable loss_grad(theta, *batch) -> (loss, grad)")
    if isinstance(stream, np.ndarray) or not isinstance(stream, (list, tuple)) or not stream:
        raise TypeError("stream: expected a non-empty list or tuple of arrays shaped (S, T, ...)")
    if project is not None and not callable(project):
        raise TypeError("project: expected None or a callable project(theta (S, d)) -> (S, d)")
    arrays = []
    for a in stream:
        if a is None or isinstance(a, (str, bytes)):
            raise TypeError(f"stream: expected arrays, got {type(a).__name__}")
        if hasattr(a, "detach"):
            if a.is_complex():
                raise TypeError("stream: expected real or integer arrays, got a complex tensor")
            a = a.detach().cpu()
            a = (a.double() if a.is_floating_point() else a).numpy()
        a = np.asarray(a)
        if a.dtype == object or np.iscomplexobj(a):
            raise TypeError(f"stream: expected real or integer arrays, got dtype {a.dtype}")
        arrays.append(a)
    if any(a.ndim < 2 for a in arrays):
        raise ValueError("stream: every array must have shape (S, T, ...) with the same S and T")
    S, T = arrays[0].shape[:2]
    if any(a.shape[:2] != (S, T) for a in arrays) or S == 0 or T == 0:
        raise ValueError("stream: every array must have shape (S, T, ...) with the same S and T > 0")
    theta = real_array(theta1, "theta1", ndim=(1, 2))
    if theta.ndim == 1:
        theta = np.broadcast_to(theta, (S, theta.shape[0])).copy()
    if theta.shape[0] != S:
        raise ValueError(f"theta1: expected shape (d,) or ({S}, d), got {theta.shape}")
    u = None
    if comparator is not None:
        u = real_array(comparator, "comparator", ndim=(1, 2))
        u = np.broadcast_to(u, theta.shape) if u.ndim == 1 and u.shape[0] == theta.shape[1] else u
        if u.shape != theta.shape:
            raise ValueError(f"comparator: expected shape ({theta.shape[1]},) or {theta.shape} to match theta1, got {u.shape}")
    check_memory(8.0 * S * (T + 1) * 6, "stream")
    return arrays, theta, u, S, T


def _run(loss_grad, arrays, theta, u, S, T, rate, project, log_post_update, keep_path) -> SGDRun:
    if keep_path:
        check_memory(8.0 * S * (T + 1) * theta.shape[1], "keep_path")
    losses, grad_sq, eta = np.empty((S, T)), np.empty((S, T)), np.empty((S, T))
    comp = np.empty((S, T)) if u is not None else None
    post = np.empty((S, T)) if log_post_update else None
    dist_sq = np.empty((S, T + 1)) if u is not None else None
    path = np.empty((S, T + 1, theta.shape[1])) if keep_path else None
    for t in range(T):
        batch = [a[:, t] for a in arrays]
        loss, g = loss_grad(theta, *batch)
        g = np.asarray(g, dtype=float)
        if g.shape != theta.shape:
            raise ValueError(f"loss_grad: returned a gradient of shape {g.shape}, expected {theta.shape}")
        losses[:, t], grad_sq[:, t] = loss, np.einsum("sd,sd->s", g, g)
        eta[:, t] = rate(t, grad_sq[:, t])
        if u is not None:
            comp[:, t] = loss_grad(u, *batch)[0]
            dist_sq[:, t] = ((theta - u) ** 2).sum(axis=1)
        if keep_path:
            path[:, t] = theta
        theta = theta - eta[:, t : t + 1] * g
        if project is not None:
            theta = np.asarray(project(theta), dtype=float)
        if log_post_update:
            post[:, t] = loss_grad(theta, *batch)[0]
    if u is not None:
        dist_sq[:, T] = ((theta - u) ** 2).sum(axis=1)
    if keep_path:
        path[:, T] = theta
    for name, arr in (("losses", losses), ("grad_sq", grad_sq), ("theta", theta)):
        _finite_or_raise(arr, "loss_grad or lrs", f"the run's {name}")
    return SGDRun(losses, comp, post, grad_sq, dist_sq, eta, theta, path)


def projected_sgd(
    loss_grad: LossGrad,
    stream: Sequence[np.ndarray],
    theta1: Any,
    lrs: Any,
    project: Callable[[np.ndarray], np.ndarray] | None = None,
    comparator: Any = None,
    *,
    log_post_update: bool = False,
    keep_path: bool = False,
) -> SGDRun:
    """Run eq. (17) of notebook 04, ``theta_{t+1} = project(theta_t - eta_t g(x_t, theta_t))``,
    for S runs at once.

    ``loss_grad(theta, *batch)`` returns the loss (S,) and a (sub)gradient (S, d) at ``theta``
    (S, d); ``batch = [a[:, t] for a in stream]``, so every array of ``stream`` has shape
    (S, T, ...). ``theta1`` is (d,) or (S, d); ``lrs`` is (T,) or (S, T) with every rate > 0
    (any order: monotonicity matters only for the bound). ``project=None`` runs plain SGD (3).
    With a ``comparator`` u ((d,) or (S, d)) the run also logs ``L(x_t, u)`` and
    ``||theta_t - u||^2``; the stream must not depend on the iterates (an oblivious, pre-drawn
    sequence), which is what lets ``u`` be chosen in hindsight.

    Raises: TypeError for a non-callable ``loss_grad``/``project``, a ``stream`` that is not a
    list/tuple of arrays, non-real input; ValueError for shapes that disagree, bad rates, or a
    run that overflows.
    """
    log_post_update, keep_path = _flag(log_post_update, "log_post_update"), _flag(keep_path, "keep_path")
    arrays, theta, u, S, T = _prepare(loss_grad, stream, theta1, project, comparator)
    eta = _rates(lrs)
    if eta.ndim == 1:
        eta = np.broadcast_to(eta, (S, eta.shape[0]))
    if eta.shape != (S, T):
        raise ValueError(f"lrs: expected shape ({T},) or ({S}, {T}), got {np.shape(lrs)}")
    return _run(loss_grad, arrays, theta, u, S, T, lambda t, g2: eta[:, t], project, log_post_update, keep_path)


def adagrad_norm_sgd(
    loss_grad: LossGrad,
    stream: Sequence[np.ndarray],
    theta1: Any,
    D: float,
    project: Callable[[np.ndarray], np.ndarray] | None = None,
    comparator: Any = None,
) -> SGDRun:
    """Projected SGD with the AdaGrad-norm rate ``eta_t = D / sqrt(2 sum_{s<=t} ||g_s||^2)``
    (the current gradient included), which needs neither ``G`` nor ``T`` ("Beyond the post" in
    notebook 04; its bound is :func:`adagrad_norm_bound`). Steps whose running sum is still 0
    have ``g_t = 0``, so no rate moves them; the rate recorded there is ``D``.

    Raises: as :func:`projected_sgd`, and ValueError for ``D <= 0``.
    """
    D = _positive(D, "D")
    arrays, theta, u, S, T = _prepare(loss_grad, stream, theta1, project, comparator)
    total = np.zeros(S)

    def rate(t, g2):
        total[:] += g2
        with np.errstate(divide="ignore"):
            return np.where(total > 0, D / np.sqrt(2 * np.where(total > 0, total, 1.0)), D)

    return _run(loss_grad, arrays, theta, u, S, T, rate, project, False, False)


# ---------------------------------------------------------------------------------------------
# comparators: the best fixed point in hindsight, certified or exact
# ---------------------------------------------------------------------------------------------


def _weighted_problem(X, y, weights):
    X, y, w = real_array(X, "X", ndim=3), real_array(y, "y", ndim=2), real_array(weights, "weights", ndim=2)
    if y.shape != X.shape[:2]:
        raise ValueError(f"y: expected shape {X.shape[:2]} to match X (S, N, d) = {X.shape}")
    if w.shape != y.shape:
        raise ValueError(f"weights: expected shape {y.shape}, got {w.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0 or X.shape[2] == 0:
        raise ValueError(f"X: expected S, N, d >= 1, got shape {X.shape}")
    if np.any(w < 0) or np.any(w.sum(axis=1) <= 0):
        raise ValueError("weights: expected non-negative weights with a positive sum per run")
    return X, y, w


def logistic_comparator(X: Any, y: Any, weights: Any, radius: float, *, tol: float = 1e-10,
                        max_iters: int = 5000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimise ``F(theta) = sum_i w_i log(1+exp(-y_i x_i.theta)) / sum_i w_i`` over the ball
    ``||theta|| <= radius`` for S problems at once (FISTA with step ``1/L``, ``L = lambda_max(
    sum_i w_i x_i x_i^T / sum w) / 4``), until every run's Frank-Wolfe gap is below ``tol``
    (the certified comparator of notebook 04).

    Returns ``(theta, F(theta), gap)``: ``gap = <grad F, theta> + radius ||grad F||`` is a
    certificate, ``F(theta) - min F <= gap``; add it to a regret measured against ``theta`` to get
    an upper bound on the regret against the true minimiser.

    Raises: TypeError for non-real input; ValueError for bad shapes, labels not +-1, negative
    weights, ``radius``/``tol`` <= 0 or a bad ``max_iters``.
    """
    X, y, w = _weighted_problem(X, y, weights)
    if not np.all(np.abs(y) == 1):
        raise ValueError("y: expected labels -1 or +1")
    radius, tol = _positive(radius, "radius"), _positive(tol, "tol")
    max_iters = size(max_iters, "max_iters", high=10**6)
    w = w / w.sum(axis=1, keepdims=True)
    Xt = np.swapaxes(X, 1, 2)  # (S, d, N)

    def grad(th):
        z = y * (X @ th[:, :, None])[:, :, 0]
        return (Xt @ (-w * y * _stable_sigmoid(-z))[:, :, None])[:, :, 0]

    def fw_gap(th):
        g = grad(th)
        return np.maximum(np.einsum("sd,sd->s", g, th) + radius * np.linalg.norm(g, axis=1), 0.0)

    L = np.linalg.eigvalsh(Xt @ (w[:, :, None] * X))[:, -1] / 4
    step = 1.0 / np.maximum(L, 1e-12)[:, None]
    theta = np.zeros((X.shape[0], X.shape[2]))
    z, tk = theta.copy(), 1.0
    for k in range(1, max_iters + 1):
        new = project_ball(z - step * grad(z), radius)
        tk1 = (1 + math.sqrt(1 + 4 * tk * tk)) / 2
        z = new + (tk - 1) / tk1 * (new - theta)
        theta, tk = new, tk1
        if k % 25 == 0 and fw_gap(theta).max() < tol:
            break
    value = (w * np.logaddexp(0.0, -y * (X @ theta[:, :, None])[:, :, 0])).sum(axis=1)
    return theta, value, fw_gap(theta)


def absolute_comparator(X: Any, y: Any, weights: Any, lo: Any, hi: Any, *,
                        certify: bool = False) -> tuple[np.ndarray, ...]:
    """Exact ``argmin_{lo <= theta <= hi} sum_i w_i |x_i.theta - y_i| / sum_i w_i`` by linear
    programming (HiGHS via ``scipy.optimize.linprog``), one LP per run (notebook 04's exact
    comparator for the absolute loss).

    Variables ``(theta, r)``; minimise ``w.r`` subject to ``-r <= X theta - y <= r``. Points
    with zero weight are dropped. Returns ``(theta (S, d), value (S,))``, and with ``certify=True``
    also ``gap`` (S,): ``value - min F <= gap``, from the Lagrange dual (for any ``|lambda_i| <= w_i``,
    ``min F >= min_box lambda.(X theta - y)``, evaluated at HiGHS's dual values clipped to the box).

    Raises: TypeError for non-real input; ValueError for bad shapes, negative weights, NaN or
    infinite box bounds, or ``lo > hi``.
    """
    from scipy import optimize, sparse  # heavy: only this function needs them

    X, y, w = _weighted_problem(X, y, weights)
    certify = _flag(certify, "certify")
    S, _, d = X.shape
    lo_a, hi_a = real_array(lo, "lo", ndim=(0, 1)), real_array(hi, "hi", ndim=(0, 1))
    for name, b in (("lo", lo_a), ("hi", hi_a)):
        if b.ndim == 1 and b.shape != (d,):
            raise ValueError(f"{name}: expected a number or shape ({d},), got {b.shape}")
    lo_b, hi_b = np.broadcast_to(lo_a, (d,)), np.broadcast_to(hi_a, (d,))
    if np.any(lo_b > hi_b):
        raise ValueError("lo: the box needs lo <= hi in every coordinate")
    thetas, values, gaps = np.empty((S, d)), np.empty(S), np.empty(S)
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
        if certify:  # a dual lower bound: valid for every lambda with |lambda_i| <= w_i
            mu = -res.ineqlin.marginals
            best = -np.inf
            for lam in (mu[:n] - mu[n:], mu[n:] - mu[:n]):
                lam = np.clip(lam, -ws, ws)
                c_theta = Xs.T @ lam
                best = max(best, np.minimum(c_theta * lo_b, c_theta * hi_b).sum() - lam @ ys)
            gaps[s] = max(values[s] - best, 0.0)
    return (thetas, values, gaps) if certify else (thetas, values)


# ---------------------------------------------------------------------------------------------
# a worst case: orthogonal gradients attain (6)
# ---------------------------------------------------------------------------------------------


def orthogonal_instance(T: int, D: float = 1.0, G: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Linear losses ``L_t(theta) = G e_t . theta`` in ``R^T`` and the rate ``eta = D/(G sqrt T)``
    ("Beyond the post" in notebook 04: the instance that attains (6)).

    Returns ``(grads, lrs)``, ``grads`` (1, T, T) (a stream for :func:`linear_loss_grad`) and ``lrs``
    (T,). From ``theta_1 = 0`` the iterates are ``theta_t = -eta G (e_1 + ... + e_{t-1})``; their
    convex hull has diameter ``eta G sqrt(T) = D``, contains every iterate (so projecting onto it
    does nothing), and its best point in hindsight is ``theta_{T+1}``: the average regret is
    ``D G / sqrt(T)``, exactly the bound (6).

    Raises: TypeError/ValueError for a bad size ``T`` (T x T must fit the memory budget), ``D, G <= 0``.
    """
    T = size(T, "T", high=MAX_STEPS)
    check_memory(8.0 * T * T, "T")
    D, G = _positive(D, "D"), _positive(G, "G")
    return G * np.eye(T)[None], constant_schedule(T, optimal_eta(D, G, T))


def loglog_slope(x: Any, y: Any) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (the rates quoted in notebook 04).

    ``x`` and ``y`` have the same shape (flattened), at least 2 points, all > 0 and finite; at
    least two distinct ``x``. The same contract as ``helpers.lora.loglog_slope``.

    Raises: TypeError for non-real input; ValueError naming ``x`` or ``y`` for a non-positive or
    non-finite value, shapes that differ, fewer than 2 points, or a constant ``x``.
    """
    x = real_array(x, "x", low=0.0, low_open=True)
    y = real_array(y, "y", low=0.0, low_open=True)
    if x.shape != y.shape:
        raise ValueError(f"y: expected the shape of x {x.shape}, got {y.shape}")
    if x.size < 2:
        raise ValueError(f"x: expected at least 2 points, got {x.size}")
    lx, ly = np.log(x.ravel()), np.log(y.ravel())
    if np.ptp(lx) == 0:
        raise ValueError("x: expected at least two distinct values")
    lx0 = lx - lx.mean()
    return float(lx0 @ (ly - ly.mean()) / (lx0 @ lx0))


# ---------------------------------------------------------------------------------------------
# plotting helpers for the bound figures
# ---------------------------------------------------------------------------------------------


def plot_regret_band(ax: Axes, T: Any, regrets: Any, *, label: str, color: str | None = None,
                     marker: str = "o", linestyle: str = "-") -> Axes:
    """Mean average regret over runs against ``T`` (log-log), with a min-max band (Figure 4 of
    notebook 04). ``regrets`` has shape (len(T), S): one row per horizon, one column per run.

    Raises: TypeError for a non-Axes ``ax`` or a non-string ``label``; ValueError for bad shapes,
    non-positive values, or an unknown ``color``/``marker``.
    """
    from matplotlib.colors import is_color_like
    from matplotlib.markers import MarkerStyle

    _check_axes(ax)
    _check_label(label, "label")
    T = real_array(T, "T", ndim=1, low=0.0, low_open=True)
    R = real_array(regrets, "regrets", ndim=2)
    if R.shape[0] != T.shape[0] or R.shape[1] == 0:
        raise ValueError(f"regrets: expected shape (len(T), S) = ({T.shape[0]}, S) with S >= 1, got {R.shape}")
    if color is not None and not (isinstance(color, str) and is_color_like(color)):
        raise ValueError(f"color: expected a matplotlib colour, got {color!r}")
    from matplotlib.lines import Line2D

    _check_label(marker, "marker")
    _check_label(linestyle, "linestyle")
    try:
        MarkerStyle(marker)
    except (ValueError, TypeError):
        raise ValueError(f"marker: expected a matplotlib marker, got {marker!r}") from None
    try:
        Line2D([], [], ls=linestyle)
    except (ValueError, TypeError):
        raise ValueError(f"linestyle: expected a matplotlib line style, got {linestyle!r}") from None
    line, = ax.plot(T, R.mean(axis=1), marker=marker, color=color, ls=linestyle, label=label, ms=4.5)
    ax.fill_between(T, R.min(axis=1), R.max(axis=1), color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    return ax


def plot_slope_guide(ax: Axes, T: Any, y0: float, slope: float = -0.5, *, label: str | None = None) -> Axes:
    """A dotted grey reference line ``y0 (T/T_0)^slope`` over the range of ``T`` (Figure 4).

    Raises: TypeError for a non-Axes ``ax`` or a non-string ``label``; ValueError for bad ``T``,
    ``y0 <= 0`` or a non-finite ``slope``.
    """
    _check_axes(ax)
    _check_label(label, "label", optional=True)
    T = real_array(T, "T", ndim=1, low=0.0, low_open=True, allow_empty=False)
    y0, slope = _positive(y0, "y0"), real_scalar(slope, "slope")
    with np.errstate(over="ignore"):
        ys = y0 * (T / T[0]) ** slope
    _finite_or_raise(ys, "y0 or slope", "the guide line")
    ax.plot(T, ys, ":", color="0.4", lw=1.2, label=label)
    return ax


def plot_bound_parts(ax: Axes, names: Sequence[str], parts: Mapping[str, Any], *, log: bool = False) -> Axes:
    """Grouped bars: one group per schedule in ``names``, one bar per entry of ``parts``
    (``{label: values}``, each of length ``len(names)``), e.g. the two terms of (4) next to what
    the run actually realised (Figure 3 of notebook 04). Bars start at 0 on a linear axis
    (``log=False``, the default); ``log=True`` is for values spanning decades and draws markers
    instead of bars, since a bar's length means nothing on a log axis.

    Raises: TypeError for a non-Axes ``ax``, non-string names or a ``parts`` that is not a
    mapping; ValueError for values of the wrong length or negative values.
    """
    _check_axes(ax)
    log = _flag(log, "log")
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence) or not all(isinstance(n, str) for n in names):
        raise TypeError("names: expected a sequence of strings")
    if not isinstance(parts, Mapping) or not all(isinstance(k, str) for k in parts):
        raise TypeError("parts: expected a mapping {label: values}")
    from helpers.notebook import MARKERS

    width = 0.8 / max(len(parts), 1)
    x = np.arange(len(names))
    for k, (label, values) in enumerate(parts.items()):
        values = real_array(values, "parts", ndim=1, low=0.0)
        if values.shape != (len(names),):
            raise ValueError(f"parts: {label!r} has {values.shape[0]} values, expected {len(names)}")
        pos = x + (k - (len(parts) - 1) / 2) * width
        if log:
            ax.plot(pos, values, MARKERS[k % len(MARKERS)], ls="none", label=label, ms=7)
        else:
            hatch = [None, "//", "..", "xx", "\\\\", "++", "oo", "--"][k % 8]
            ax.bar(pos, values, width, label=label, hatch=hatch, edgecolor="white", lw=0.5)
    ax.set_xticks(x, names)
    if log:
        ax.set_yscale("log")
    return ax
