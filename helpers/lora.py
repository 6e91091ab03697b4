"""LoRA and LoRA+ (notebook 07): a LoRA linear layer, LoRA+ optimizer parameter groups, and the
vectorised teacher-student learning-rate sweep used to test how eta_B/eta_A should scale with width.

Conventions. The layer follows PEFT: ``lora_A`` has shape (rank, in) and is applied first (input
side), ``lora_B`` has shape (out, rank) (output side) and is zero-initialised, and the update is
``scaling * lora_B @ lora_A`` with ``scaling = alpha / rank``. In the row-vector notation of the
blog post, ``Y = X A B`` with ``A = lora_A.T`` (n x r) and ``B = scaling * lora_B.T`` (r x m); the
LoRA+ paper writes ``W = W* + B A`` with the same roles. In all three, "B" is the output-side
factor, and it is the one that gets the larger learning rate. Under Adam, ``scaling`` multiplies
the effective ratio: (alpha, ratio) trains like (rank, ratio * alpha / rank) (notebook 07, section
"Conventions"), so a LoRA+ ratio equals the post's lambda only when ``alpha == rank``.

The sweep functions use the post's reduced model ``Y = X A B`` (``W_0 = 0`` without loss of
generality) with hand-written batched Adam, so that one loop trains a whole grid of
(eta_A, eta_B) at once; :func:`train_reference` replays one grid point with :class:`LoRALinear`,
:func:`loraplus_param_groups` and ``torch.optim.Adam`` on the same random stream.

Arguments are checked with :mod:`helpers._validate` (errors name the argument). Torch rule: the
layer and :func:`lora_grads` are torch-side (tensor in, tensor out, autograd and device kept,
checked with ``real_tensor``); the sweep and the readers of a sweep take numpy-like input and
return numpy arrays and floats (a tensor given to them is ``.detach()``-ed and copied). torch is
imported at module level because :class:`LoRALinear` is an ``nn.Module``.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from helpers._validate import (check_memory, choice, is_tensor, real_array, real_scalar, real_tensor,
                               size)

__all__ = [
    "MAX_WIDTH",
    "MAX_STEPS",
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

MAX_WIDTH = 1 << 20
"""Largest layer width, rank, batch or input dimension accepted (memory is checked as well)."""
MAX_STEPS = 1_000_000
"""Most training steps one :class:`Task` may ask for."""
_MAX_LOG2 = 100.0  # |log2 learning rate| and |log2 ratio| bound: 2**100 is already absurd


def _positive(value, name: str) -> float:
    return real_scalar(value, name, low=0.0, low_open=True)


def _torch_device(device, name: str = "device") -> torch.device:
    if device is None:
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"{name}: expected a str or torch.device, got {type(device).__name__}")
    try:
        return torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"{name}: not a torch device: {device!r} ({err})") from None


def _float_dtype(dtype, name: str = "dtype", *, allow_none: bool = False):
    if dtype is None and allow_none:
        return None
    if not isinstance(dtype, torch.dtype) or dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name}: expected torch.float32 or torch.float64, got {dtype!r}")
    return dtype


# ---------------------------------------------------------------------------------------------
# the layer
# ---------------------------------------------------------------------------------------------


class LoRALinear(nn.Module):
    """``y = x W0^T + b0 + scaling * (x lora_A^T) lora_B^T`` with ``W0``, ``b0`` frozen
    (notebook 07, section "Conventions": the post's ``X (W0 + A B)`` with ``A = lora_A^T``).

    ``W0`` and ``b0`` are buffers (saved in the state dict, moved by ``.to``, never returned by
    ``.parameters()``), so no optimizer, weight decay or ``requires_grad_()`` can change them.
    Initialisation as in PEFT: the zero factor is ``lora_B`` (``zero_init="B"``, the default);
    the other gets Kaiming-uniform with ``a = sqrt(5)``, i.e. variance ``1 / (3 fan_in)``.
    ``zero_init="A"`` swaps which factor starts at zero (the update is zero at init either way).
    ``scaling = alpha / rank`` (default ``alpha = rank``); under Adam it multiplies the effective
    LoRA+ ratio by ``alpha / rank``.

    Raises:
        TypeError: a size that is not an integer, a non-bool ``bias``, a dtype that is not a real
            floating-point torch dtype, a device that is not a str or torch.device.
        ValueError: a size < 1 or > MAX_WIDTH, ``alpha`` not finite and > 0, ``zero_init`` not
            "A" or "B", a weight that would need more than the memory limit.
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
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        in_features = size(in_features, "in_features", high=MAX_WIDTH)
        out_features = size(out_features, "out_features", high=MAX_WIDTH)
        rank = size(rank, "rank", high=MAX_WIDTH)
        alpha = float(rank) if alpha is None else _positive(alpha, "alpha")
        zero_init = choice(zero_init, "zero_init", ("A", "B"))
        if not isinstance(bias, bool):
            raise TypeError(f"bias: expected True or False, got {type(bias).__name__}")
        if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point
                                  or dtype.is_complex):
            raise TypeError(f"dtype: expected a real floating-point torch dtype, got {dtype!r}")
        device = _torch_device(device)
        itemsize = torch.empty((), dtype=dtype).element_size()
        check_memory(itemsize * (in_features * out_features + rank * (in_features + out_features)),
                     "in_features")
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
        """Wrap a (pretrained) ``nn.Linear``: its weight and bias are copied and frozen.

        Raises:
            TypeError: ``linear`` is not an ``nn.Linear``; as :class:`LoRALinear` otherwise.
            ValueError: as :class:`LoRALinear`.
        """
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"linear: expected a torch.nn.Linear, got {type(linear).__name__}")
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
        """The layer applied to ``x`` (..., in_features); autograd flows to the two factors.

        Raises:
            TypeError: ``x`` is not a real floating-point tensor of the layer's dtype.
            ValueError: the last dimension of ``x`` is not ``in_features``, or ``x`` has NaN/inf.
        """
        x = real_tensor(x, "x")
        if x.dim() < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"x: expected a last dimension of {self.in_features}, "
                             f"got shape {tuple(x.shape)}")
        if x.dtype != self.lora_A.dtype:
            raise TypeError(f"x: expected dtype {self.lora_A.dtype}, got {x.dtype}")
        y = nn.functional.linear(x, self.weight, self.bias)
        return y + self.scaling * nn.functional.linear(
            nn.functional.linear(x, self.lora_A), self.lora_B)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"rank={self.rank}, alpha={self.alpha:g}, zero_init={self.zero_init!r}")


def post_factors(layer: LoRALinear) -> tuple[torch.Tensor, torch.Tensor]:
    """The layer's factors in the post's row-vector notation ``X W0^T + X A B`` (notebook 07,
    "Conventions"): ``A = lora_A^T`` (in x rank, input side), ``B = scaling * lora_B^T``
    (rank x out). Autograd is kept.

    Raises:
        TypeError: ``layer`` is not a :class:`LoRALinear`.
    """
    if not isinstance(layer, LoRALinear):
        raise TypeError(f"layer: expected a LoRALinear, got {type(layer).__name__}")
    return layer.lora_A.T, layer.scaling * layer.lora_B.T


# ---------------------------------------------------------------------------------------------
# LoRA+ optimizer groups
# ---------------------------------------------------------------------------------------------


_ROLES = {"lora_A": "A", "lora_B": "B", "lora_embedding_A": "A", "lora_embedding_B": "B"}


def _lora_role(name: str) -> tuple[str | None, bool]:
    """("A" | "B" | None, is an embedding factor) from a dotted parameter name."""
    for part in name.split("."):
        if part in _ROLES:
            return _ROLES[part], part.startswith("lora_embedding_")
    return None, False


def loraplus_param_groups(
    model: nn.Module,
    lr: float,
    ratio: float,
    *,
    weight_decay: float | None = None,
    other_lr: float | None = None,
    embedding_lr: float | None = None,
) -> list[dict]:
    """Optimizer parameter groups for LoRA+: ``eta_A = lr``, ``eta_B = ratio * lr`` (notebook 07,
    Step 5 and the width sweep; the ratio is the post's lambda when ``alpha == rank``).

    A parameter is a LoRA factor when a component of its dotted name is ``lora_A`` / ``lora_B``
    (:class:`LoRALinear`, and PEFT's ``"...lora_B.default.weight"``) or PEFT's embedding factors
    ``lora_embedding_A`` / ``lora_embedding_B`` (input and output side of a LoRA ``Embedding``).
    Only trainable parameters (``requires_grad``) are used, each once. Groups, each with a
    ``"name"`` key, empty ones left out:

    * ``"lora_A"`` at ``lr`` and ``"lora_B"`` at ``ratio * lr``. Embedding factors join them by
      role, unless ``embedding_lr`` is given: then they form an ``"embedding"`` group at that
      fixed rate, not scaled by the ratio (what PEFT and the official ``create_loraplus_optimizer``
      do, with ``loraplus_lr_embedding = 1e-6`` by default).
    * ``"other"`` (every other trainable parameter of 2 or more dimensions) at ``other_lr``
      (default ``lr``) and ``"other_no_decay"`` (the 1-D ones: biases, norm gains) at ``other_lr``
      with ``weight_decay = 0``. NOT boosted: PEFT and the official code give every trainable 1-D
      parameter ``ratio * lr``; which is better is an open choice (notebook 07, discussion).

    ``weight_decay``: ``None`` (default) leaves it to the optimizer, so
    ``AdamW(loraplus_param_groups(m, 1e-4, 16), weight_decay=0.5)`` decays every group but
    ``"other_no_decay"`` by 0.5; a number sets it on every group but ``"other_no_decay"``.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``; a rate that is not a real number.
        ValueError: a rate that is not finite and > 0, ``weight_decay`` < 0 or not finite, or a
            model without trainable LoRA factors.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    lr = _positive(lr, "lr")
    ratio = _positive(ratio, "ratio")
    if weight_decay is not None:
        weight_decay = real_scalar(weight_decay, "weight_decay", low=0.0)
    other_lr = lr if other_lr is None else _positive(other_lr, "other_lr")
    if embedding_lr is not None:
        embedding_lr = _positive(embedding_lr, "embedding_lr")

    buckets: dict[str, list[nn.Parameter]] = {"A": [], "B": [], "emb": [], "other": [],
                                              "other_1d": []}
    for name, p in model.named_parameters():  # named_parameters() already skips duplicates
        if not p.requires_grad:
            continue
        role, is_embedding = _lora_role(name)
        if role is not None:
            buckets["emb" if is_embedding and embedding_lr is not None else role].append(p)
        else:
            buckets["other_1d" if p.ndim <= 1 else "other"].append(p)
    if not (buckets["A"] or buckets["B"] or buckets["emb"]):
        raise ValueError(
            "model: no trainable LoRA factors (parameters named lora_A / lora_B, or PEFT's "
            "lora_embedding_A / lora_embedding_B); add LoRA to its layers first (LoRALinear, "
            "or peft.get_peft_model)")
    decay = {} if weight_decay is None else {"weight_decay": weight_decay}
    groups = [
        {"name": "lora_A", "params": buckets["A"], "lr": lr, **decay},
        {"name": "lora_B", "params": buckets["B"], "lr": lr * ratio, **decay},
        {"name": "embedding", "params": buckets["emb"], "lr": embedding_lr, **decay},
        {"name": "other", "params": buckets["other"], "lr": other_lr, **decay},
        {"name": "other_no_decay", "params": buckets["other_1d"], "lr": other_lr,
         "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


# ---------------------------------------------------------------------------------------------
# the post's reduced model Y = X A B
# ---------------------------------------------------------------------------------------------


def lora_grads(X: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of a loss through ``Y = X A B`` given ``G = dL/dY`` (notebook 07, Step 3; the
    post's 快速推导): ``dL/dA = X^T G B^T`` and ``dL/dB = A^T X^T G``. Leading dimensions
    broadcast, so ``A`` of shape (C, n, r) and ``B`` of shape (C, r, m) give the gradients of C
    models at once. Tensors in, tensors out (device and autograd kept).

    Raises:
        TypeError: an argument that is not a real floating-point tensor, or mixed dtypes.
        ValueError: fewer than 2 dimensions, NaN/inf, or shapes that do not chain.
    """
    X, A, B, G = (real_tensor(t, name) for t, name in [(X, "X"), (A, "A"), (B, "B"), (G, "G")])
    for t, name in [(X, "X"), (A, "A"), (B, "B"), (G, "G")]:
        if t.dim() < 2:
            raise ValueError(f"{name}: expected at least 2 dimensions, got shape {tuple(t.shape)}")
        if t.dtype != X.dtype:
            raise TypeError(f"{name}: expected the dtype of X ({X.dtype}), got {t.dtype}")
    if X.shape[-1] != A.shape[-2] or A.shape[-1] != B.shape[-2] or G.shape[-1] != B.shape[-1] \
            or G.shape[-2] != X.shape[-2]:
        raise ValueError(f"shapes do not chain: X {tuple(X.shape)}, A {tuple(A.shape)}, "
                         f"B {tuple(B.shape)}, G {tuple(G.shape)}")
    gA = X.transpose(-1, -2) @ (G @ B.transpose(-1, -2))
    gB = (X @ A).transpose(-1, -2) @ G
    return gA, gB


@dataclass(frozen=True)
class Task:
    """Teacher-student LoRA task in the post's reduced model ``Y = X A B`` (W0 = 0; notebook 07,
    section "Experiment").

    Inputs ``x = Q^T z / sqrt(k)`` with ``z ~ N(0, I_k)`` per sample and a fixed ``Q`` (k x n) of
    N(0, 1) entries: O(1) entries, intrinsic dimension k (``k=None``: isotropic ``N(0, I_n)``).
    Teacher ``A* ~ N(0, 1/n)``, ``B* ~ N(0, 1/r)``; student ``A0 ~ N(0, 1/n)``, ``B0 = 0``
    (``zero_init="A"``: ``A0 = 0``, ``B0 ~ N(0, 1/r)``). Loss: half the mean squared error over
    a batch of ``batch`` fresh samples, ``steps`` Adam steps.

    Raises:
        TypeError: a size that is not an integer.
        ValueError: a size < 1 or above MAX_WIDTH (MAX_STEPS for ``steps``), ``zero_init`` not
            "A" or "B".
    """

    n: int
    m: int | None = None
    r: int = 8
    k: int | None = 8
    batch: int = 32
    steps: int = 50
    zero_init: str = "B"

    def __post_init__(self) -> None:
        for f in ("n", "r", "batch"):
            object.__setattr__(self, f, size(getattr(self, f), f, high=MAX_WIDTH))
        object.__setattr__(self, "steps", size(self.steps, "steps", high=MAX_STEPS))
        for f in ("m", "k"):
            if getattr(self, f) is not None:
                object.__setattr__(self, f, size(getattr(self, f), f, high=MAX_WIDTH))
        choice(self.zero_init, "zero_init", ("A", "B"))
        rows = self.n if self.k is None else self.k
        check_memory(8 * (rows * self.n + 4 * self.n * self.r + 2 * self.r * self.out), "n")

    @property
    def out(self) -> int:
        """The output width m (``n`` when ``m`` is None)."""
        return self.n if self.m is None else self.m


@dataclass
class Problem:
    """One draw of a :class:`Task`: the fixed matrices and a stream of training inputs.

    Raises:
        TypeError: ``task`` is not a Task, ``rng`` not a numpy Generator, a matrix not real.
        ValueError: a matrix of the wrong shape or with NaN/inf.
    """

    task: Task
    Q: np.ndarray | None
    A_star: np.ndarray
    B_star: np.ndarray
    A0: np.ndarray
    B0: np.ndarray
    rng: np.random.Generator

    def __post_init__(self) -> None:
        t = self.task
        if not isinstance(t, Task):
            raise TypeError(f"task: expected a Task, got {type(t).__name__}")
        if not isinstance(self.rng, np.random.Generator):
            raise TypeError("rng: expected a numpy.random.Generator, got "
                            f"{type(self.rng).__name__}")
        shapes = {"A_star": (t.n, t.r), "B_star": (t.r, t.out), "A0": (t.n, t.r),
                  "B0": (t.r, t.out)}
        if t.k is None:
            if self.Q is not None:
                raise ValueError("Q: expected None for isotropic inputs (task.k is None)")
        else:
            shapes["Q"] = (t.k, t.n)
        for name, shape in shapes.items():
            arr = real_array(getattr(self, name), name, ndim=2)
            if arr.shape != shape:
                raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
            setattr(self, name, arr)

    def inputs(self, size: int) -> np.ndarray:
        """Draw ``size`` fresh inputs (rows) from the task's input distribution.

        Raises:
            TypeError, ValueError: ``size`` is not an integer in 0..MAX_WIDTH.
        """
        rows = _size_arg(size)
        t = self.task
        if t.k is None:
            return self.rng.standard_normal((rows, t.n))
        return self.rng.standard_normal((rows, t.k)) @ self.Q / math.sqrt(t.k)

    def sigma_root(self) -> np.ndarray | None:
        """``S`` with ``E[x x^T] = S^T S`` (``Q / sqrt(k)``), or None for isotropic inputs."""
        return None if self.Q is None else self.Q / math.sqrt(self.task.k)


def _size_arg(value) -> int:
    return size(value, "size", low=0, high=MAX_WIDTH)


def draw_problem(task: Task, rng: np.random.Generator) -> Problem:
    """Draw, in this order, ``Q``, ``A*``, ``B*`` and ``A0`` (or ``B0``); the training batches
    then come from ``Problem.inputs`` on the same generator (notebook 07, "Experiment").

    Raises:
        TypeError: ``task`` is not a Task or ``rng`` is not a numpy Generator.
    """
    if not isinstance(task, Task):
        raise TypeError(f"task: expected a Task, got {type(task).__name__}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
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


def _population_loss64(S, A2d, C, B, A_star, B_star):
    """:func:`_population_loss` evaluated in float64 (from factors of any dtype): the Gram form
    subtracts numbers of the size of the base loss, so in float32 a loss below about 1e-6 of it
    is lost to cancellation and can even come out negative."""
    d = lambda x: None if x is None else x.double()  # noqa: E731
    return _population_loss(d(S), d(A2d), C, d(B), d(A_star), d(B_star))


@dataclass
class SweepResult:
    """Metrics of a (log2 eta_A) x (log2 ratio) grid; every array has shape (len(lr), len(ratio)).

    ``auc``: mean training-batch loss over the run / base loss (a speed metric); ``final``: exact
    population loss after the last step / base loss (evaluated in float64); ``rms_A``,
    ``rms_B``: final rms of the factor entries (the post's A and ``B = scaling * lora_B^T``);
    ``dloss_A``, ``dloss_B``: summed first-order loss decreases ``-<g_A, dA>``, ``-<g_B, dB>`` /
    base loss (notebook 07, Step 4). The base loss is the population loss of the zero map
    (the student at initialisation), ``E[y*^2] / 2``. Diverged runs read ``inf``.

    Raises:
        TypeError: ``task`` is not a Task; an array that is not real.
        ValueError: an array with NaN or of the wrong shape.
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

    def __post_init__(self) -> None:
        if not isinstance(self.task, Task):
            raise TypeError(f"task: expected a Task, got {type(self.task).__name__}")
        self.log2_lr_a = real_array(self.log2_lr_a, "log2_lr_a", ndim=1, allow_empty=False)
        self.log2_ratio = real_array(self.log2_ratio, "log2_ratio", ndim=1, allow_empty=False)
        shape = (self.log2_lr_a.size, self.log2_ratio.size)
        for name in ("auc", "final", "rms_A", "rms_B", "dloss_A", "dloss_B"):
            arr = real_array(getattr(self, name), name, ndim=2, allow_inf=True)
            if arr.shape != shape:
                raise ValueError(f"{name}: expected shape {shape} = (len(log2_lr_a), "
                                 f"len(log2_ratio)), got {arr.shape}")
            setattr(self, name, arr)


def _log2_grid(values, name: str) -> np.ndarray:
    return real_array(values, name, ndim=(0, 1), allow_empty=False, low=-_MAX_LOG2,
                      high=_MAX_LOG2).ravel()


def _adam_options(betas, eps) -> tuple[float, float, float]:
    b = real_array(betas, "betas", ndim=1, low=0.0, high=1.0, high_open=True)
    if b.size != 2:
        raise ValueError(f"betas: expected two numbers (beta1, beta2), got {b.size}")
    return float(b[0]), float(b[1]), real_scalar(eps, "eps", low=0.0, low_open=True)


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
    grid at once, on one shared stream of batches (common random numbers across the grid;
    notebook 07, section "Experiment").

    The gradients are those of :func:`lora_grads` (Step 3), ``X^T G B^T`` and ``A^T X^T G`` with
    ``G = (X A B - X A* B*) / (b m)``, evaluated through r x r Gram matrices so that no
    (configs, batch, m) tensor is formed; the Adam step is ``torch.optim.Adam``'s, so
    :func:`train_reference` reproduces any grid point. Training runs in ``dtype``; the final
    population loss is evaluated in float64 from the trained factors.

    Raises:
        TypeError: ``task``, ``rng``, ``dtype`` or ``device`` of the wrong kind; a grid or an Adam
            option that is not real numbers.
        ValueError: an empty grid or one with NaN/inf or |value| > 100; ``betas`` not two numbers
            in [0, 1); ``eps`` not > 0; a grid that would need more than the memory limit.
    """
    if not isinstance(task, Task):
        raise TypeError(f"task: expected a Task, got {type(task).__name__}")
    la = _log2_grid(log2_lr_a, "log2_lr_a")
    lr_ = _log2_grid(log2_ratio, "log2_ratio")
    b1, b2, eps = _adam_options(betas, eps)
    device, dtype = _torch_device(device), _float_dtype(dtype)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    C = la.size * lr_.size
    n, m, r, bm = task.n, task.out, task.r, task.batch * task.out
    rows = n if task.k is None else task.k
    itemsize = 4 if dtype == torch.float32 else 8
    check_memory(itemsize * C * r * (6 * n + 6 * m + 3 * task.batch) + 8 * C * r * (rows + m + r),
                 "log2_lr_a")
    prob = draw_problem(task, rng)
    kw = {"device": device, "dtype": dtype}
    t = lambda a: torch.as_tensor(a, **kw)  # noqa: E731
    ea = np.repeat(2.0 ** la, lr_.size)
    eb = ea * np.tile(2.0 ** lr_, la.size)
    # A is kept as (n, C, r), i.e. one n x (C r) matrix, so that X A and X^T H are single GEMMs
    # for the whole grid; B is (C, r, m).
    lrA, lrB = t(ea).view(1, C, 1), t(eb).view(C, 1, 1)
    A_star, B_star = t(prob.A_star), t(prob.B_star)
    S = None if prob.Q is None else t(prob.sigma_root())
    A = t(prob.A0)[:, None, :].expand(n, C, r).contiguous()
    B = t(prob.B0).expand(C, r, m).contiguous()
    base = float(_population_loss64(S, torch.zeros(n, r, **kw), 1, torch.zeros(1, r, m, **kw),
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
        final = _population_loss64(S, A.view(n, C * r), C, B, A_star, B_star)
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
    relative to the base loss (notebook 07, the check after the width sweep). A diverged run
    returns ``inf``.

    Raises:
        TypeError, ValueError: as :func:`sweep`, for the same arguments.
    """
    if not isinstance(task, Task):
        raise TypeError(f"task: expected a Task, got {type(task).__name__}")
    la = real_scalar(log2_lr_a, "log2_lr_a", low=-_MAX_LOG2, high=_MAX_LOG2)
    lr_ = real_scalar(log2_ratio, "log2_ratio", low=-_MAX_LOG2, high=_MAX_LOG2)
    b1, b2, eps = _adam_options(betas, eps)
    dtype = _float_dtype(dtype)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    prob = draw_problem(task, rng)
    n, m, r = task.n, task.out, task.r
    layer = LoRALinear(n, m, r, bias=False, dtype=dtype)
    with torch.no_grad():
        layer.weight.zero_()
        layer.lora_A.copy_(torch.as_tensor(prob.A0.T))
        layer.lora_B.copy_(torch.as_tensor(prob.B0.T))
    opt = torch.optim.Adam(
        loraplus_param_groups(layer, 2.0 ** la, 2.0 ** lr_), betas=(b1, b2), eps=eps)
    A_star = torch.as_tensor(prob.A_star, dtype=dtype)
    B_star = torch.as_tensor(prob.B_star, dtype=dtype)
    S = None if prob.Q is None else torch.as_tensor(prob.sigma_root(), dtype=dtype)

    def population(A, B):
        return float(_population_loss64(S, A, 1, B[None], A_star, B_star)[0])

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
    fix = lambda v: v if math.isfinite(v) else math.inf  # noqa: E731
    return fix(total / task.steps / base), fix(final / base)


# ---------------------------------------------------------------------------------------------
# reading a sweep
# ---------------------------------------------------------------------------------------------


def best_log_ratio(log2_ratio, profile, *, halfwidth: int = 2) -> float:
    """Sub-grid argmin of a loss profile over an evenly spaced, increasing ``log2_ratio`` grid
    (notebook 07, lambda* of the width sweep): a parabola fitted to ``log10(profile)`` on the
    ``2*halfwidth+1`` points around the grid minimum (the window is shifted inside the grid at an
    edge); its vertex, clipped to that window. If the fitted curvature is not positive, or the
    window holds a diverged (inf) entry, the grid argmin is returned.

    Raises:
        TypeError: an argument that is not real numbers / an integer.
        ValueError: not 1-D of the same length >= 3, a grid that is not evenly spaced and
            increasing, NaN, or a profile entry <= 0 (a loss fitted on a log scale; from a sweep
            in float32 such an entry would be round-off, which is why ``sweep`` evaluates its
            final loss in float64).
    """
    x = real_array(log2_ratio, "log2_ratio", ndim=1)
    y = real_array(profile, "profile", ndim=1, allow_inf=True)
    halfwidth = size(halfwidth, "halfwidth", high=MAX_WIDTH)
    if x.shape != y.shape or x.size < 3:
        raise ValueError(f"log2_ratio and profile must be 1-D of the same length >= 3, got "
                         f"{x.shape} and {y.shape}")
    steps = np.diff(x)
    if not (steps[0] > 0 and np.allclose(steps, steps[0], rtol=1e-9, atol=0)):
        raise ValueError("log2_ratio: expected an evenly spaced, increasing grid")
    if not np.all(y > 0):
        raise ValueError(f"profile: expected values > 0 (it is fitted on a log scale), got "
                         f"{y[~(y > 0)][0]:g}")
    if not np.isfinite(y).any():
        raise ValueError("profile: every entry is inf (every run diverged)")
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
    """Least-squares slope of ``log y`` against ``log x`` (any common base), as used for every
    fitted exponent of notebook 07.

    Raises:
        TypeError: ``x`` or ``y`` not real numbers.
        ValueError: not 1-D of the same length >= 2, a value <= 0, NaN/inf, or all ``x`` equal.
    """
    x = real_array(x, "x", ndim=1, low=0.0, low_open=True)
    y = real_array(y, "y", ndim=1, low=0.0, low_open=True)
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"x and y must be 1-D of the same length >= 2, got {x.shape} and "
                         f"{y.shape}")
    lx = np.log(x)
    if np.ptp(lx) == 0:
        raise ValueError("x: all values are equal, so there is no slope")
    return float(np.polyfit(lx, np.log(y), 1)[0])


# ---------------------------------------------------------------------------------------------
# cached sweeps (data/lora_sweep.npz): byte-reproducible .npz files and their checksums
# ---------------------------------------------------------------------------------------------


def _path(path, name: str) -> Path:
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a path (str or os.PathLike), got {type(path).__name__}")
    return Path(path)


def _existing_file(path, name: str) -> Path:
    p = _path(path, name)
    if not p.is_file():
        raise ValueError(f"{name}: no such file: {p}")
    return p


def save_npz_deterministic(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> str:
    """Write ``arrays`` as an ``.npz`` that ``np.load`` reads, with fixed zip timestamps and
    sorted members, so equal arrays give equal bytes; returns the file's sha256 (the provenance
    of notebook 07's cached sweep).

    Raises:
        TypeError: ``path`` is not a path; ``arrays`` is not a dict of str -> numeric or string
            arrays.
        ValueError: ``path`` does not end in ``.npz``, ``arrays`` is empty or has a bad name.
    """
    p = _path(path, "path")
    if p.suffix != ".npz":
        raise ValueError(f"path: expected a file name ending in .npz, got {p.name!r}")
    if not isinstance(arrays, dict):
        raise TypeError(f"arrays: expected a dict of name -> array, got {type(arrays).__name__}")
    if not arrays:
        raise ValueError("arrays: expected at least one array")
    checked = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"arrays: member names must be identifiers, got {name!r}")
        arr = np.asarray(value.detach().cpu().numpy() if is_tensor(value) else value)
        if arr.dtype.kind not in "biufUS":
            raise TypeError(f"arrays: {name!r} has dtype {arr.dtype}; expected numbers or strings")
        checked[name] = arr
    with zipfile.ZipFile(p, "w") as zf:
        for name in sorted(checked):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, checked[name], allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    return sha256_file(p)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes.

    Raises:
        TypeError: ``path`` is not a path.
        ValueError: ``path`` is not an existing file.
    """
    return hashlib.sha256(_existing_file(path, "path").read_bytes()).hexdigest()


def recorded_sha256(readme: str | os.PathLike, filename: str) -> str:
    """The sha256 recorded for ``filename`` in a ``data/README.md`` table (the row whose first
    cell names it, the 64-hex-digit cell of that row).

    Raises:
        TypeError: ``readme`` is not a path or ``filename`` not a str.
        ValueError: ``readme`` is not a file, has no row for ``filename``, or that row has no
            single sha256 cell.
    """
    readme = _existing_file(readme, "readme")
    if not isinstance(filename, str):
        raise TypeError(f"filename: expected a str, got {type(filename).__name__}")
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [c.strip(" `") for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells and cells[0] == filename:
            digests = [c for c in cells if re.fullmatch(r"[0-9a-f]{64}", c)]
            if len(digests) == 1:
                return digests[0]
            raise ValueError(f"filename: the row of {filename} in {readme} has no single "
                             "sha256 cell")
    raise ValueError(f"filename: {readme} has no row for {filename}")
