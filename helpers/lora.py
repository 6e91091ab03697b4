"""LoRA and LoRA+ (notebook 07): a LoRA linear layer, LoRA+ optimizer parameter groups, and the
vectorised teacher-student learning-rate sweep used to test how eta_B/eta_A should scale with width.

Conventions. The layer follows PEFT: ``lora_A`` has shape (rank, in) and is applied first (input
side), ``lora_B`` has shape (out, rank) (output side) and is zero-initialised, and the update is
``scaling * lora_B @ lora_A`` with ``scaling = alpha / rank``. In the row-vector notation of the
blog post, ``Y = X A B`` with ``A = lora_A.T`` (n x r) and ``B = scaling * lora_B.T`` (r x m); the
LoRA+ paper writes ``W = W* + B A`` with the same roles. In all three, "B" is the output-side
factor, and it is the one that gets the larger learning rate.

The sweep functions use the post's reduced model ``Y = X A B`` (``W_0 = 0`` without loss of
generality) with hand-written batched Adam, so that one loop trains a whole grid of
(eta_A, eta_B) at once; :func:`train_reference` replays one grid point with :class:`LoRALinear`,
:func:`loraplus_param_groups` and ``torch.optim.Adam`` on the same random stream.
"""

from __future__ import annotations

import hashlib
import io
import math
import numbers
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = [
    "LoRALinear",
    "loraplus_param_groups",
    "post_factors",
    "lora_grads",
    "Task",
    "Problem",
    "SweepResult",
    "draw_problem",
    "sweep",
    "train_reference",
    "best_log_ratio",
    "loglog_slope",
    "save_npz_deterministic",
    "sha256_file",
    "recorded_sha256",
]


# ---------------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------------


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)


def _positive_float(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive finite number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return float(value)


# ---------------------------------------------------------------------------------------------
# the layer
# ---------------------------------------------------------------------------------------------


class LoRALinear(nn.Module):
    """``y = x W0^T + b0 + scaling * (x lora_A^T) lora_B^T`` with ``W0``, ``b0`` frozen.

    ``W0`` and ``b0`` are buffers (saved in the state dict, moved by ``.to``, never returned by
    ``.parameters()``), so no optimizer, weight decay or ``requires_grad_()`` can change them.
    Initialisation as in PEFT: the zero factor is ``lora_B`` (``zero_init="B"``, the default);
    the other gets Kaiming-uniform with ``a = sqrt(5)``, i.e. variance ``1 / (3 fan_in)``.
    ``zero_init="A"`` swaps which factor starts at zero (the update is zero at init either way).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rank: int,
        alpha: float | None = None,
        *,
        bias: bool = True,
        zero_init: str = "B",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        in_features = _positive_int(in_features, "in_features")
        out_features = _positive_int(out_features, "out_features")
        rank = _positive_int(rank, "rank")
        alpha = float(rank) if alpha is None else _positive_float(alpha, "alpha")
        if zero_init not in ("A", "B"):
            raise ValueError(f"zero_init must be 'A' or 'B', got {zero_init!r}")
        kw = {"device": device, "dtype": dtype}
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.alpha, self.zero_init = alpha, zero_init
        self.scaling = alpha / rank
        # frozen pretrained weight: nn.Linear's default init, stored as buffers
        base = nn.Linear(in_features, out_features, bias=bias, **kw)
        self.register_buffer("weight", base.weight.detach().clone())
        self.register_buffer("bias", base.bias.detach().clone() if bias else None)
        self.lora_A = nn.Parameter(torch.empty(rank, in_features, **kw))
        self.lora_B = nn.Parameter(torch.empty(out_features, rank, **kw))
        self.reset_lora_parameters()

    @classmethod
    def from_linear(
        cls, linear: nn.Linear, rank: int, alpha: float | None = None, *, zero_init: str = "B"
    ) -> LoRALinear:
        """Wrap a (pretrained) ``nn.Linear``: its weight and bias are copied and frozen."""
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
        w = linear.weight
        layer = cls(linear.in_features, linear.out_features, rank, alpha,
                    bias=linear.bias is not None, zero_init=zero_init,
                    device=w.device, dtype=w.dtype)
        with torch.no_grad():
            layer.weight.copy_(w)
            if linear.bias is not None:
                layer.bias.copy_(linear.bias)
        return layer

    def reset_lora_parameters(self) -> None:
        """Zero one factor and Kaiming-uniform-initialise the other (PEFT's default)."""
        zero, rand = (self.lora_B, self.lora_A) if self.zero_init == "B" else (
            self.lora_A, self.lora_B)
        with torch.no_grad():
            zero.zero_()
            nn.init.kaiming_uniform_(rand, a=math.sqrt(5))

    def delta_weight(self) -> torch.Tensor:
        """The low-rank update ``scaling * lora_B @ lora_A`` (shape out x in)."""
        return self.scaling * (self.lora_B @ self.lora_A)

    def merged_weight(self) -> torch.Tensor:
        """``W0 + scaling * lora_B @ lora_A``: the weight of an equivalent plain linear layer."""
        return self.weight + self.delta_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.linear(x, self.weight, self.bias)
        return y + self.scaling * nn.functional.linear(
            nn.functional.linear(x, self.lora_A), self.lora_B)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"rank={self.rank}, alpha={self.alpha:g}, zero_init={self.zero_init!r}")


def post_factors(layer: LoRALinear) -> tuple[torch.Tensor, torch.Tensor]:
    """The layer's factors in the post's row-vector notation ``X W0^T + X A B``:
    ``A = lora_A^T`` (in x rank, input side), ``B = scaling * lora_B^T`` (rank x out)."""
    if not isinstance(layer, LoRALinear):
        raise TypeError(f"layer must be a LoRALinear, got {type(layer).__name__}")
    return layer.lora_A.T, layer.scaling * layer.lora_B.T


# ---------------------------------------------------------------------------------------------
# LoRA+ optimizer groups
# ---------------------------------------------------------------------------------------------


def _lora_role(name: str) -> str | None:
    parts = name.split(".")
    if "lora_B" in parts:
        return "B"
    if "lora_A" in parts:
        return "A"
    return None


def loraplus_param_groups(
    model: nn.Module,
    lr: float,
    ratio: float,
    *,
    weight_decay: float = 0.0,
    other_lr: float | None = None,
) -> list[dict]:
    """Optimizer parameter groups for LoRA+: ``eta_A = lr``, ``eta_B = ratio * lr``.

    A parameter is a LoRA factor when a component of its dotted name is ``lora_A`` or
    ``lora_B``: the parameters of :class:`LoRALinear` (``"...lora_B"``) and PEFT's
    (``"...lora_B.default.weight"``). Only trainable parameters (``requires_grad``) are used,
    each once (shared parameters are not repeated). Every other trainable parameter goes to an
    ``"other"`` group at ``other_lr`` (default ``lr``: NOT boosted, unlike the official
    ``create_loraplus_optimizer``, which gives every 1-D parameter ``ratio * lr``); its 1-D
    members (biases, norm gains) go to ``"other_no_decay"`` with ``weight_decay = 0``.
    Empty groups are left out. Each group carries a ``"name"`` key; any ``torch.optim``
    optimizer accepts the list: ``torch.optim.AdamW(loraplus_param_groups(m, 1e-4, 16))``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    lr = _positive_float(lr, "lr")
    ratio = _positive_float(ratio, "ratio")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real) or not (
            math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    other_lr = lr if other_lr is None else _positive_float(other_lr, "other_lr")

    buckets: dict[str, list[nn.Parameter]] = {"A": [], "B": [], "other": [], "other_1d": []}
    for name, p in model.named_parameters():  # named_parameters() already skips duplicates
        if not p.requires_grad:
            continue
        role = _lora_role(name)
        if role is not None:
            buckets[role].append(p)
        else:
            buckets["other_1d" if p.ndim <= 1 else "other"].append(p)
    if not buckets["A"] and not buckets["B"]:
        raise ValueError(
            "model has no trainable LoRA factors (parameters named 'lora_A' / 'lora_B'); "
            "wrap its linear layers with LoRALinear first")
    groups = [
        {"name": "lora_A", "params": buckets["A"], "lr": lr, "weight_decay": weight_decay},
        {"name": "lora_B", "params": buckets["B"], "lr": lr * ratio, "weight_decay": weight_decay},
        {"name": "other", "params": buckets["other"], "lr": other_lr, "weight_decay": weight_decay},
        {"name": "other_no_decay", "params": buckets["other_1d"], "lr": other_lr,
         "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


# ---------------------------------------------------------------------------------------------
# the post's reduced model Y = X A B
# ---------------------------------------------------------------------------------------------


def lora_grads(X: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of a loss through ``Y = X A B`` given ``G = dL/dY`` (the post's 快速推导):
    ``dL/dA = X^T G B^T`` and ``dL/dB = A^T X^T G``. Leading dimensions broadcast, so ``A``
    of shape (C, n, r) and ``B`` of shape (C, r, m) give the gradients of C models at once."""
    if X.shape[-1] != A.shape[-2] or A.shape[-1] != B.shape[-2] or G.shape[-1] != B.shape[-1]:
        raise ValueError(f"shapes do not chain: X {tuple(X.shape)}, A {tuple(A.shape)}, "
                         f"B {tuple(B.shape)}, G {tuple(G.shape)}")
    gA = X.transpose(-1, -2) @ (G @ B.transpose(-1, -2))
    gB = (X @ A).transpose(-1, -2) @ G
    return gA, gB


@dataclass(frozen=True)
class Task:
    """Teacher-student LoRA task in the post's reduced model ``Y = X A B`` (W0 = 0).

    Inputs ``x = Q^T z / sqrt(k)`` with ``z ~ N(0, I_k)`` per sample and a fixed ``Q`` (k x n) of
    N(0, 1) entries: O(1) entries, intrinsic dimension k (``k=None``: isotropic ``N(0, I_n)``).
    Teacher ``A* ~ N(0, 1/n)``, ``B* ~ N(0, 1/r)``; student ``A0 ~ N(0, 1/n)``, ``B0 = 0``
    (``zero_init="A"``: ``A0 = 0``, ``B0 ~ N(0, 1/r)``). Loss: half the mean squared error over
    a batch of ``batch`` fresh samples, ``steps`` Adam steps.
    """

    n: int
    m: int | None = None
    r: int = 8
    k: int | None = 8
    batch: int = 32
    steps: int = 50
    zero_init: str = "B"

    def __post_init__(self):
        for f in ("n", "r", "batch", "steps"):
            _positive_int(getattr(self, f), f)
        if self.m is not None:
            _positive_int(self.m, "m")
        if self.k is not None:
            _positive_int(self.k, "k")
        if self.zero_init not in ("A", "B"):
            raise ValueError(f"zero_init must be 'A' or 'B', got {self.zero_init!r}")

    @property
    def out(self) -> int:
        return self.n if self.m is None else self.m


@dataclass
class Problem:
    """One draw of a :class:`Task`: the fixed matrices and a stream of training inputs."""

    task: Task
    Q: np.ndarray | None
    A_star: np.ndarray
    B_star: np.ndarray
    A0: np.ndarray
    B0: np.ndarray
    rng: np.random.Generator

    def inputs(self, size: int) -> np.ndarray:
        """Draw ``size`` fresh inputs (rows) from the task's input distribution."""
        t = self.task
        if t.k is None:
            return self.rng.standard_normal((size, t.n))
        return self.rng.standard_normal((size, t.k)) @ self.Q / math.sqrt(t.k)

    def sigma_root(self) -> np.ndarray | None:
        """``S`` with ``E[x x^T] = S^T S`` (``Q / sqrt(k)``), or None for isotropic inputs."""
        return None if self.Q is None else self.Q / math.sqrt(self.task.k)


def draw_problem(task: Task, rng: np.random.Generator) -> Problem:
    """Draw, in this order, ``Q``, ``A*``, ``B*`` and ``A0`` (or ``B0``); the training batches
    then come from ``Problem.inputs`` on the same generator."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    n, m, r = task.n, task.out, task.r
    Q = None if task.k is None else rng.standard_normal((task.k, n))
    A_star = rng.standard_normal((n, r)) / math.sqrt(n)
    B_star = rng.standard_normal((r, m)) / math.sqrt(r)
    if task.zero_init == "B":
        A0, B0 = rng.standard_normal((n, r)) / math.sqrt(n), np.zeros((r, m))
    else:
        A0, B0 = np.zeros((n, r)), rng.standard_normal((r, m)) / math.sqrt(r)
    return Problem(task, Q, A_star, B_star, A0, B0, rng)


def _half_sq_error(K, Ks, B, B_star, ks_norm):
    """``||U B - U* B*||_F^2 / 2`` from Gram matrices ``K = U^T U``, ``Ks = U^T U*`` (C, r, r),
    ``B`` (C, r, m) and ``ks_norm = ||U* B*||_F^2``: no (C, rows, m) tensor is ever formed."""
    quad = (K * (B @ B.transpose(1, 2))).sum((1, 2))
    cross = (Ks * (B @ B_star.T)).sum((1, 2))
    return 0.5 * (quad - 2 * cross + ks_norm)


def _population_loss(S, A2d, C, B, A_star, B_star):
    """Exact test loss ``E ||x^T (A B - A* B*)||^2 / (2 m)`` for ``E[x x^T] = S^T S`` (``S=None``:
    identity); ``A2d`` is the (n, C r) layout of C factors A."""
    n, r, m = A_star.shape[0], B_star.shape[0], B_star.shape[1]
    SA = A2d if S is None else S @ A2d
    SAs = A_star if S is None else S @ A_star
    U = SA.view(-1, C, r).transpose(0, 1)                      # (C, rows, r)
    K = U.transpose(1, 2) @ U
    Ks = U.transpose(1, 2) @ SAs
    return _half_sq_error(K, Ks, B, B_star, (SAs @ B_star).square().sum()) / m


@dataclass
class SweepResult:
    """Metrics of a (log2 eta_A) x (log2 ratio) grid; every array has shape (len(lr), len(ratio)).

    ``auc``: mean training-batch loss over the run / base loss (a speed metric); ``final``: exact
    population loss after the last step / base loss; ``rms_A``, ``rms_B``: final rms of the
    factor entries; ``dloss_A``, ``dloss_B``: summed first-order loss decreases
    ``-<g_A, dA>``, ``-<g_B, dB>`` / base loss. The base loss is the population loss of the
    zero map (the student at initialisation), ``E[y*^2] / 2``. Diverged runs read ``inf``.
    """

    task: Task
    log2_lr_a: np.ndarray
    log2_ratio: np.ndarray
    auc: np.ndarray
    final: np.ndarray
    rms_A: np.ndarray
    rms_B: np.ndarray
    dloss_A: np.ndarray
    dloss_B: np.ndarray


def sweep(
    task: Task,
    log2_lr_a,
    log2_ratio,
    rng: np.random.Generator,
    *,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> SweepResult:
    """Train the student of ``task`` with Adam for every ``(eta_A, eta_B = ratio * eta_A)`` of the
    grid at once, on one shared stream of batches (common random numbers across the grid).

    The gradients are those of :func:`lora_grads`, ``X^T G B^T`` and ``A^T X^T G`` with
    ``G = (X A B - X A* B*) / (b m)``, evaluated through r x r Gram matrices so that no
    (configs, batch, m) tensor is formed; the Adam step is ``torch.optim.Adam``'s, so
    :func:`train_reference` reproduces any grid point.
    """
    la = np.asarray(log2_lr_a, dtype=float).ravel()
    lr_ = np.asarray(log2_ratio, dtype=float).ravel()
    if la.size == 0 or lr_.size == 0:
        raise ValueError("log2_lr_a and log2_ratio must be non-empty")
    prob = draw_problem(task, rng)
    b1, b2 = betas
    kw = {"device": device, "dtype": dtype}
    t = lambda a: torch.as_tensor(a, **kw)  # noqa: E731
    ea = np.repeat(2.0 ** la, lr_.size)
    eb = ea * np.tile(2.0 ** lr_, la.size)
    C = ea.size
    n, m, r, bm = task.n, task.out, task.r, task.batch * task.out
    # A is kept as (n, C, r), i.e. one n x (C r) matrix, so that X A and X^T H are single GEMMs
    # for the whole grid; B is (C, r, m).
    lrA, lrB = t(ea).view(1, C, 1), t(eb).view(C, 1, 1)
    A_star, B_star = t(prob.A_star), t(prob.B_star)
    S = None if prob.Q is None else t(prob.sigma_root())
    A = t(prob.A0)[:, None, :].expand(n, C, r).contiguous()
    B = t(prob.B0).expand(C, r, m).contiguous()
    base = float(_population_loss(S, torch.zeros(n, r, **kw), 1, torch.zeros(1, r, m, **kw),
                                  A_star, B_star)[0])
    mA, vA, mB, vB = (torch.zeros_like(A), torch.zeros_like(A),
                      torch.zeros_like(B), torch.zeros_like(B))
    auc, dA, dB = (torch.zeros(C, dtype=torch.float64, device=device) for _ in range(3))

    def adam(p, g, mom, var, lr, c1, c2, dims):
        """torch.optim.Adam's update in place; returns the first-order loss change <g, dp>."""
        mom.mul_(b1).add_(g, alpha=1 - b1)
        var.mul_(b2).addcmul_(g, g, value=1 - b2)
        dp = var.sqrt().div_(c2).add_(eps).reciprocal_().mul_(mom).mul_(lr).div_(-c1)
        p.add_(dp)
        return (g * dp).sum(dims).double()

    with torch.no_grad():
        for step in range(1, task.steps + 1):
            X = t(prob.inputs(task.batch))
            XA = (X @ A.view(n, C * r)).view(-1, C, r).transpose(0, 1)    # (C, b, r)
            XAs = X @ A_star                                                # (b, r)
            K, Ks = XA.transpose(1, 2) @ XA, XA.transpose(1, 2) @ XAs      # (C, r, r)
            auc += _half_sq_error(K, Ks, B, B_star, (XAs @ B_star).square().sum()).double() / bm
            # G B^T = (X A B B^T - X A* B* B^T) / (b m);  A^T X^T G = (K B - Ks B*) / (b m)
            H = (XA @ (B @ B.transpose(1, 2)) - XAs @ (B_star @ B.transpose(1, 2))).div_(bm)
            gA = (X.T @ H.transpose(0, 1).reshape(-1, C * r)).view(n, C, r)
            gB = (K @ B - Ks @ B_star).div_(bm)
            c1, c2 = 1 - b1 ** step, math.sqrt(1 - b2 ** step)
            dA -= adam(A, gA, mA, vA, lrA, c1, c2, (0, 2))
            dB -= adam(B, gB, mB, vB, lrB, c1, c2, (1, 2))
        final = _population_loss(S, A.view(n, C * r), C, B, A_star, B_star).double()
        rms_A, rms_B = A.square().mean((0, 2)).sqrt(), B.square().mean((1, 2)).sqrt()
    shape = (la.size, lr_.size)

    def out(x: torch.Tensor, scale: float = 1.0) -> np.ndarray:
        a = x.double().cpu().numpy().reshape(shape) / scale
        return np.where(np.isfinite(a), a, np.inf)

    return SweepResult(task, la, lr_, out(auc / task.steps, base), out(final, base),
                       out(rms_A), out(rms_B), out(dA, base), out(dB, base))


def train_reference(
    task: Task,
    log2_lr_a: float,
    log2_ratio: float,
    rng: np.random.Generator,
    *,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    dtype: torch.dtype = torch.float32,
) -> tuple[float, float]:
    """One grid point of :func:`sweep`, trained the ordinary way: a bias-free, zero-``W0``
    :class:`LoRALinear` (``alpha = rank``), autograd, ``loraplus_param_groups`` and
    ``torch.optim.Adam``. Same random stream as :func:`sweep`; returns ``(auc, final)``
    relative to the base loss."""
    prob = draw_problem(task, rng)
    n, m, r = task.n, task.out, task.r
    layer = LoRALinear(n, m, r, bias=False, dtype=dtype)
    with torch.no_grad():
        layer.weight.zero_()
        layer.lora_A.copy_(torch.as_tensor(prob.A0.T))
        layer.lora_B.copy_(torch.as_tensor(prob.B0.T))
    opt = torch.optim.Adam(
        loraplus_param_groups(layer, 2.0 ** log2_lr_a, 2.0 ** log2_ratio), betas=betas, eps=eps)
    A_star = torch.as_tensor(prob.A_star, dtype=dtype)
    B_star = torch.as_tensor(prob.B_star, dtype=dtype)
    S = None if prob.Q is None else torch.as_tensor(prob.sigma_root(), dtype=dtype)

    def population(A, B):
        return float(_population_loss(S, A, 1, B[None], A_star, B_star)[0])

    base = population(torch.zeros(n, r, dtype=dtype), torch.zeros(r, m, dtype=dtype))
    total = 0.0
    for _ in range(task.steps):
        X = torch.as_tensor(prob.inputs(task.batch), dtype=dtype)
        loss = 0.5 * (layer(X) - X @ A_star @ B_star).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += float(loss.detach())
    with torch.no_grad():
        A, B = post_factors(layer)
        final = population(A.contiguous(), B.contiguous())
    return total / task.steps / base, final / base


# ---------------------------------------------------------------------------------------------
# reading a sweep
# ---------------------------------------------------------------------------------------------


def best_log_ratio(log2_ratio, profile, *, halfwidth: int = 2) -> float:
    """Sub-grid argmin of a loss profile over an evenly spaced ``log2_ratio`` grid: a parabola
    fitted to ``log10(profile)`` on the ``2*halfwidth+1`` points around the grid minimum (the
    window is shifted inside the grid at an edge); its vertex, clipped to that window. If the
    fitted curvature is not positive, the grid argmin is returned."""
    x = np.asarray(log2_ratio, dtype=float).ravel()
    y = np.asarray(profile, dtype=float).ravel()
    if x.shape != y.shape or x.size < 3:
        raise ValueError("log2_ratio and profile must be 1-D of the same length >= 3")
    if not np.all(y > 0):
        raise ValueError("profile must be positive (it is fitted on a log scale)")
    i = int(np.argmin(y))
    w = min(halfwidth, (x.size - 1) // 2)
    lo = min(max(i - w, 0), x.size - 2 * w - 1)
    xs, ys = x[lo:lo + 2 * w + 1], np.log10(y[lo:lo + 2 * w + 1])
    if not np.all(np.isfinite(ys)):
        return float(x[i])
    c2, c1, _ = np.polyfit(xs, ys, 2)
    if c2 <= 0:
        return float(x[i])
    return float(np.clip(-c1 / (2 * c2), xs[0], xs[-1]))


def loglog_slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (any common base)."""
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    if lx.shape != ly.shape or lx.size < 2:
        raise ValueError("x and y must have the same shape with at least 2 points")
    return float(np.polyfit(lx.ravel(), ly.ravel(), 1)[0])


# ---------------------------------------------------------------------------------------------
# cached sweeps (data/lora_sweep.npz): byte-reproducible .npz files and their checksums
# ---------------------------------------------------------------------------------------------


def save_npz_deterministic(path, arrays: dict[str, np.ndarray]) -> str:
    """Write ``arrays`` as an ``.npz`` that ``np.load`` reads, with fixed zip timestamps and
    sorted members, so equal arrays give equal bytes; returns the file's sha256."""
    path = Path(path)
    with zipfile.ZipFile(path, "w") as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    return sha256_file(path)


def sha256_file(path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def recorded_sha256(readme, filename: str) -> str:
    """The sha256 recorded for ``filename`` in a ``data/README.md`` table (the row whose first
    cell names it, the 64-hex-digit cell of that row)."""
    for line in Path(readme).read_text(encoding="utf-8").splitlines():
        cells = [c.strip(" `") for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells and cells[0] == filename:
            digests = [c for c in cells if re.fullmatch(r"[0-9a-f]{64}", c)]
            if len(digests) == 1:
                return digests[0]
            raise ValueError(f"{readme}: the row of {filename} has no single sha256 cell")
    raise ValueError(f"{readme}: no row for {filename}")
