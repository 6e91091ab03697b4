"""EMO, the optimal-transport classification loss of notebook 01 (kexue.fm/archives/9797).

Notation: logits ``z`` of shape (..., V), probabilities ``p = softmax(z)``, target ids ``t``, and
frozen cost embeddings ``E`` (V, d) with unit rows ``Ê``. The cost of moving mass from token i to
token t is ``c_it = 1 - <Ê_i, Ê_t>`` (eq. 8). With a one-hot target the transport problem has a
single feasible plan, so the earth mover's cost is (eqs. 5 and 9)

    L_EMO = sum_i p_i c_it = 1 - < sum_i p_i Ê_i , Ê_t >,

one probability-weighted sum of normalised embeddings per token. Its gradient (notebook 01,
Step 8) is ``dL/dz_j = p_j (c_jt - L_EMO)``.

Contents
- ``emo_loss``: eq. (9) in torch, O(N·V·d) with a single N×V buffer; no V×V cost, no one-hot.
- ``emo_mix_loss``: the detached-ratio CE + EMO mix; mode 1 without a cap is the official
  code's first variant (``language_modeling/gpt2.py``, mode ``'emo'``; notebook 01, Step 18).
- ``emo_official``: the official code's dense recipe (one-hot @ Ê), for checks and benchmarks.
- ``transport_cost``, ``cosine_cost``: reference optimal transport (POT, or scipy's LP).
- ``mix_optimum``: minimiser of E_P[-log q] + λ q·a over the simplex (notebook 01, Step 12).
- ``SynonymTask``: the toy "synonym" language of the notebook, with exact metrics, and its
  bigram models trained under CE or EMO (``fit_bigram``); ``tempered``: sampling temperature.

Arguments are checked by ``helpers._validate``; errors name the argument. Torch rule: the torch
functions (``emo_loss``, ``emo_mix_loss``, ``emo_official``) are tensor in, tensor out, with
autograd into ``logits`` (double backward included: ``create_graph=True`` works); the numpy
functions take tensors too and ``.detach()`` them (float64 copies). Complex input is rejected.
torch, POT and scipy are imported inside the functions that use them, so importing this module
costs only numpy.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from helpers import _validate as _v

if TYPE_CHECKING:  # annotations only; torch is imported where it is used
    import torch

__all__ = [
    "emo_loss",
    "emo_mix_loss",
    "emo_official",
    "transport_cost",
    "cosine_cost",
    "mix_optimum",
    "SynonymTask",
    "tempered",
]

_REDUCTIONS = ("mean", "sum", "none")
_MAX_ID = 2**63 - 1
_MAX_TRANSPORT_SIZE = 4_000_000  # V·W plan entries (32 MB of float64); solver work grows faster
_MAX_TOKENS = 10**6  # SynonymTask vocabulary and sample length ceilings
_MAX_SAMPLE = 10**7


# --- input checks ----------------------------------------------------------------------------


def _compute_dtype(dtype):
    """float64 stays float64 (for exact checks); every other float type is computed in float32."""
    import torch

    return torch.float64 if dtype == torch.float64 else torch.float32


def _index(value, name: str) -> int:
    """An integer id such as ``ignore_index`` (via operator.index: not None, 2.5 or True)."""
    return _v.size(value, name, low=-_MAX_ID - 1, high=_MAX_ID)


def _validate(logits, targets, embeddings, ignore_index, reduction):
    """Check shapes, dtypes, ranges and finiteness; return (logits 2-D view, safe ids, mask).

    ``safe ids`` equals ``targets`` with ignored positions replaced by 0 (so they can index), and
    ``mask`` is 1.0 where a token counts and 0.0 where it is ignored (compute dtype).
    """
    import torch

    _v.real_tensor(logits, "logits", check_finite=False)
    _v.real_tensor(embeddings, "embeddings", check_finite=False)
    if not _v.is_tensor(targets):
        raise TypeError(
            f"targets: expected a torch tensor of integer ids, got {type(targets).__name__}")
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise TypeError(f"targets: expected an integer dtype, got {targets.dtype}")
    ignore_index = _index(ignore_index, "ignore_index")
    _v.choice(reduction, "reduction", _REDUCTIONS)
    if logits.ndim < 1 or logits.shape[-1] < 1:
        raise ValueError(f"logits: expected shape (..., V) with V >= 1, got {tuple(logits.shape)}")
    V = logits.shape[-1]
    if tuple(targets.shape) != tuple(logits.shape[:-1]):
        raise ValueError(
            f"targets: expected shape {tuple(logits.shape[:-1])} (logits without the class axis), "
            f"got {tuple(targets.shape)}"
        )
    if embeddings.ndim != 2 or embeddings.shape[0] != V or embeddings.shape[1] < 1:
        raise ValueError(
            f"embeddings: expected shape ({V}, d) matching the {V} classes of logits, "
            f"got {tuple(embeddings.shape)}"
        )
    if not (logits.device == targets.device == embeddings.device):
        raise ValueError(
            f"logits, targets, embeddings: expected one device, got {logits.device}, "
            f"{targets.device}, {embeddings.device}"
        )
    mask = targets != ignore_index
    bad = mask & ((targets < 0) | (targets >= V))
    if bool(bad.any()):
        value = int(targets[bad][0])
        raise ValueError(
            f"targets: ids must lie in [0, {V}) or equal ignore_index={ignore_index}; found {value}"
        )
    extremes = torch.stack(torch.aminmax(logits.detach())) if logits.numel() else None
    if extremes is not None and not bool(torch.isfinite(extremes).all()):
        # one reduction over the logits, no N×V temporary
        raise ValueError("logits: expected finite values, found NaN or ±inf")
    norms = torch.linalg.vector_norm(embeddings.detach(), dim=1)  # NaN/inf propagate; no V×d copy
    if not bool(torch.isfinite(norms).all()):
        raise ValueError("embeddings: expected finite values, found NaN or ±inf (or too large)")
    if bool((norms == 0).any()):
        raise ValueError("embeddings: a row is all zeros, so its cosine cost is undefined")
    ct = _compute_dtype(logits.dtype)
    flat_t = targets.reshape(-1)
    flat_m = mask.reshape(-1)
    safe = torch.where(flat_m, flat_t, torch.zeros_like(flat_t)).long()
    return logits.reshape(-1, V), safe, flat_m.to(ct)


def _unit_rows(embeddings, dtype):
    """Ê: rows of the frozen cost embeddings scaled to unit length (detached: the cost is fixed)."""
    import torch.nn.functional as F

    return F.normalize(embeddings.detach().to(dtype), dim=1, eps=1e-30)


# --- the fused loss ----------------------------------------------------------------------------


@functools.cache
def _emo_and_ce():
    """The autograd Function, built on first use (so that importing this module needs no torch)."""
    import torch

    class EmoAndCE(torch.autograd.Function):
        """Per-token (EMO, CE) from one softmax, with the hand-derived backward.

        forward: p = softmax(z) (the single N×V buffer), m = p @ Ê (N×d),
                 EMO = 1 - <m, Ê_t>, CE = logsumexp(z) - z_t.
        backward, for upstream weights w (EMO) and a (CE):
                 dz = p ⊙ (a + w (1 - EMO) - (w Ê_t) @ Êᵀ) - a·onehot(t),
        i.e. w·p_j (c_jt - EMO) + a (p_j - δ_jt), written into one N×V buffer (one GEMM + one
        pass). Under ``create_graph=True`` (grad mode on in backward) the same formula is
        rebuilt from the logits with differentiable operations, so double backward works.
        """

        @staticmethod
        def forward(ctx, z2d, unit, safe, mask):  # noqa: D102
            ct = unit.dtype
            logp = torch.log_softmax(z2d, dim=-1, dtype=ct)  # the N×V buffer
            ce = -logp.gather(1, safe[:, None]).squeeze(1)
            p = logp.exp_()  # in place: the same buffer now holds p
            e_t = unit.index_select(0, safe)  # N×d gather; never a one-hot
            emo = 1.0 - torch.linalg.vecdot(p @ unit, e_t)
            emo = emo * mask
            ce = ce * mask
            ctx.save_for_backward(z2d, p, unit, safe, mask, emo)  # z2d: the input, not a copy
            ctx.in_dtype = z2d.dtype
            return emo, ce

        @staticmethod
        def backward(ctx, g_emo, g_ce):  # noqa: D102
            if not ctx.needs_input_grad[0]:
                return None, None, None, None
            z2d, p, unit, safe, mask, emo = ctx.saved_tensors
            w = g_emo.to(unit.dtype) * mask
            a = g_ce.to(unit.dtype) * mask
            e_t = unit.index_select(0, safe)
            if torch.is_grad_enabled():  # create_graph=True: a differentiable rebuild from z
                p = torch.softmax(z2d.to(unit.dtype), dim=-1)
                emo = (1.0 - torch.linalg.vecdot(p @ unit, e_t)) * mask
                grad = p * ((a + w * (1.0 - emo))[:, None] - (e_t * w[:, None]) @ unit.T)
                grad = grad.scatter_add(1, safe[:, None], -a[:, None])
                return grad.to(ctx.in_dtype), None, None, None
            # G = (a + w(1 - EMO)) 1ᵀ - (w Ê_t) Êᵀ, then G ⊙= p, then G[i, t_i] -= a_i
            grad = torch.addmm((a + w * (1.0 - emo))[:, None], e_t * (-w)[:, None], unit.T)
            grad.mul_(p)
            grad.scatter_add_(1, safe[:, None], -a[:, None])
            return grad.to(ctx.in_dtype), None, None, None

    return EmoAndCE


def _per_token(logits, targets, embeddings, ignore_index, reduction):
    z2d, safe, mask = _validate(logits, targets, embeddings, ignore_index, reduction)
    unit = _unit_rows(embeddings, mask.dtype)
    emo, ce = _emo_and_ce().apply(z2d, unit, safe, mask)
    return emo, ce, mask


def _reduce(per_token, mask, shape, reduction: str):
    if reduction == "none":
        return per_token.reshape(shape)
    total = per_token.sum()
    if reduction == "sum":
        return total
    return total / mask.sum().clamp_min(1.0)  # mean over the tokens that count; 0 if none do


def emo_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    embeddings: torch.Tensor,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    """EMO loss, eq. (9) of notebook 01: ``1 - <Σ_i p_i Ê_i, Ê_t>`` per token, p = softmax(logits).

    Args:
        logits: (..., V) scores of any float dtype; float16/bfloat16 are computed in float32,
            float64 in float64. Must be finite.
        targets: (...) integer class ids in [0, V), or ``ignore_index`` for positions that do not
            count (their loss and gradient are 0).
        embeddings: (V, d) cost embeddings, e.g. a pre-trained LM head. Rows are normalised and
            treated as constants (the transport cost is fixed; no gradient flows into them).
        ignore_index: an integer id (not None).
        reduction: "mean" over the counted tokens (0 when there are none), "sum", or "none"
            (shape of ``targets``).

    Returns: the loss in the compute dtype (float32, or float64 for float64 logits). The gradient
    with respect to ``logits`` has the logits' dtype; double backward (``create_graph=True``) is
    supported. Cost: one N×V softmax buffer (kept for the backward pass), two N×V×d matrix
    products (forward and backward), no V×V or one-hot tensor.

    Raises: TypeError for non-tensors, non-float logits/embeddings, non-integer targets or
    ignore_index; ValueError for shapes, devices, ids out of range, NaN/inf, zero embedding rows
    or an unknown reduction.
    """
    emo, _, mask = _per_token(logits, targets, embeddings, ignore_index, reduction)
    return _reduce(emo, mask, targets.shape, reduction)


def _mode(mode, allow_none: bool = False) -> int | None:
    if mode is None and allow_none:
        return None
    if isinstance(mode, bool) or not isinstance(mode, (int, np.integer)) or int(mode) not in (1, 2):
        want = "None, 1 or 2" if allow_none else "1 or 2"
        raise ValueError(f"mode: expected {want}, got {mode!r}")
    return int(mode)


def _max_ratio(max_ratio) -> float | None:
    if max_ratio is None:
        return None
    return _v.real_scalar(max_ratio, "max_ratio", allow_inf=True, low=0.0, low_open=True)


def emo_mix_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    embeddings: torch.Tensor,
    ignore_index: int = -100,
    reduction: str = "mean",
    mode: int = 1,
    max_ratio: float | None = None,
) -> torch.Tensor:
    """CE + EMO mixed with a detached per-token ratio, as the official EMO code trains (notebook
    01, Steps 11, 13 and 18).

    mode 1: ``½ (CE + sg[CE / EMO] · EMO)``  (gradient: ½ ∇CE + ½ (CE/EMO) ∇EMO)
    mode 2: ``sg[EMO / CE] · CE + EMO``       (gradient: (EMO/CE) ∇CE + ∇EMO)

    ``sg`` is stop-gradient. EMO here is the exact value of eq. (9). Mode 1 without ``max_ratio``
    is the official code's first variant (``language_modeling/gpt2.py``, mode ``'emo'``). The
    later variants (instruction tuning, continual fine-tuning, ``emo_patch.py``) put the value
    EMO + p_t into the ratio, and continual fine-tuning clips the mode-1 ratio at 3: see
    ``emo_official``. The denominator is floored at 8·eps of the compute dtype, so ignored tokens
    (CE = EMO = 0) give 0, not 0/0. ``max_ratio`` optionally caps the ratio. Arguments otherwise
    as in ``emo_loss``; CE and EMO share one softmax.

    Raises: as ``emo_loss``; ValueError for a mode other than 1 or 2 or a max_ratio that is not
    a number > 0 (inf means no cap).
    """
    mode = _mode(mode)
    max_ratio = _max_ratio(max_ratio)
    emo, ce, mask = _per_token(logits, targets, embeddings, ignore_index, reduction)
    import torch

    tiny = 8 * torch.finfo(emo.dtype).eps
    if mode == 1:
        ratio = (ce / emo.clamp_min(tiny)).detach()
    else:
        ratio = (emo / ce.clamp_min(tiny)).detach()
    if max_ratio is not None:
        ratio = ratio.clamp_max(max_ratio)
    per = 0.5 * (ce + ratio * emo) if mode == 1 else ratio * ce + emo
    return _reduce(per, mask, targets.shape, reduction)


def emo_official(
    logits: torch.Tensor,
    targets: torch.Tensor,
    embeddings: torch.Tensor,
    ignore_index: int = -100,
    mode: int | None = 1,
    offset: bool = True,
    max_ratio: float | None = None,
) -> torch.Tensor:
    """The official code's dense recipe, re-typed from its description (notebook 01, Steps 17-18).

    Builds a float one-hot of the targets and multiplies it by Ê (an N×V by V×d product) to get
    Ê_t, and ``q @ Ê`` with ``q = exp(log_softmax(z))``. With ``offset=True`` (code after
    2023-11-21) the target's own probability is removed from q with a stop-gradient, so the value
    is EMO + p_t while the gradient is unchanged. ``mode=None`` returns the per-token EMO values;
    mode 1 or 2 returns the masked mean of the mix with the official ``+ 1e-10`` guards;
    ``max_ratio=3`` is continual fine-tuning's ``torch.min(ratio, 3.0)`` (mode 1 only).

    Raises: as ``emo_loss``; ValueError for a mode other than None, 1 or 2, a non-bool offset or
    a max_ratio that is not a number > 0.
    """
    import torch
    import torch.nn.functional as F

    mode = _mode(mode, allow_none=True)
    if not isinstance(offset, (bool, np.bool_)):
        raise TypeError(f"offset: expected True or False, got {type(offset).__name__}")
    max_ratio = _max_ratio(max_ratio)
    if max_ratio is not None and mode != 1:
        raise ValueError(f"max_ratio: the official code clips only mode 1, got mode={mode!r}")
    z2d, safe, mask = _validate(logits, targets, embeddings, ignore_index, "mean")
    V = z2d.shape[-1]
    ct = mask.dtype
    z = z2d.to(ct)
    _v.check_memory(4.0 * z.numel() * z.element_size(), "logits")  # the one-hot and its siblings
    one_hot = F.one_hot(safe, V)  # N×V integer one-hot, as in the official code
    stable = (one_hot + 1e-15).to(ct)
    stable = stable / stable.sum(-1, keepdim=True)  # its "stable" one-hot (1e-15 is lost in fp32)
    unit = F.normalize(embeddings.detach().to(ct), dim=-1)
    e_t = stable @ unit  # an N×V×d product to fetch the rows Ê_t
    q = torch.log_softmax(z, dim=-1).exp()
    if offset:
        q = q - (q * one_hot).detach()  # value EMO + p_t, same gradient
    emo = 1.0 - ((q @ unit) * e_t).sum(-1)
    if mode is None:
        return (emo * mask).reshape(targets.shape)
    ce = F.cross_entropy(z, safe, reduction="none")
    if mode == 1:
        ratio = (ce / (emo + 1e-10)).detach()
        if max_ratio is not None:
            ratio = ratio.clamp_max(max_ratio)
        loss = 0.5 * (ce + ratio * emo)
    else:
        loss = (emo / (ce + 1e-10)).detach() * ce + emo
    return (loss * mask).sum() / (mask.sum() + 1e-15)


# --- reference optimal transport (numpy, float64) ----------------------------------------------


def _distribution(x, name: str) -> np.ndarray:
    """A non-empty 1-D array of finite non-negative masses (a float64 C-contiguous copy)."""
    return np.ascontiguousarray(_v.real_array(x, name, ndim=1, allow_empty=False, low=0.0))


def transport_cost(p: np.ndarray, q: np.ndarray, cost: np.ndarray, method: str = "pot") -> float:
    """Optimal transport cost, eq. (4) of notebook 01: ``min_γ Σ γ_ij c_ij`` over couplings of p, q.

    ``method="pot"`` uses POT's network simplex (``ot.emd2``); ``"linprog"`` solves the same
    linear programme with scipy's HiGHS (a V·W-variable LP with sparse marginal constraints),
    as an independent check. ``p`` (V,) and ``q`` (W,) are non-negative with equal totals
    (to 1e-9 relative); ``cost`` is (V, W) and finite. Any memory layout is fine (arrays are
    copied to C order); tensors are detached.

    Raises: TypeError for non-real input; ValueError for shapes, negative or non-finite entries,
    unequal totals, an unknown method, or V·W above 4·10⁶ (the plan would not fit the budget).
    """
    p, q = _distribution(p, "p"), _distribution(q, "q")
    method = _v.choice(method, "method", ("pot", "linprog"))
    V, W = p.size, q.size
    if V * W > _MAX_TRANSPORT_SIZE:
        raise ValueError(f"p, q: a {V}×{W} transport plan exceeds the size budget of "
                         f"{_MAX_TRANSPORT_SIZE:.0e} entries; use smaller distributions")
    cost = np.ascontiguousarray(_v.real_array(cost, "cost", ndim=2))
    if cost.shape != (V, W):
        raise ValueError(f"cost: expected shape {(V, W)} (len(p), len(q)), got {cost.shape}")
    sp, sq = p.sum(), q.sum()
    if abs(sp - sq) > 1e-9 * max(1.0, sp, sq):
        raise ValueError(f"p, q: expected equal total mass, got {sp:.12g} and {sq:.12g}")
    if method == "pot":
        _v.check_memory(8.0 * V * W * 3, "cost")  # the plan and POT's working copies
        import ot

        return float(ot.emd2(p, q, cost))
    from scipy import optimize, sparse

    _v.check_memory(8.0 * V * W * 12, "cost")  # two CSR blocks with 2·V·W non-zeros, plus HiGHS
    rows = sparse.kron(sparse.identity(V, format="csr"), np.ones((1, W)), format="csr")  # Σ_j γ_ij
    cols = sparse.kron(np.ones((1, V)), sparse.identity(W, format="csr"), format="csr")  # Σ_i γ_ij
    res = optimize.linprog(
        cost.ravel(), A_eq=sparse.vstack([rows, cols], format="csr"), b_eq=np.concatenate([p, q]),
        bounds=(0, None), method="highs",
    )
    if res.status != 0:
        raise RuntimeError(f"linprog failed: {res.message}")
    return float(res.fun)


def cosine_cost(embeddings: np.ndarray) -> np.ndarray:
    """The V×V cost of eq. (8) of notebook 01, ``c_ij = 1 - cos(e_i, e_j)``, from (V, d) embeddings.

    Rows are scaled by their largest entry before the norm, so huge or tiny rows do not overflow
    or underflow. Raises: TypeError for non-real input; ValueError for a shape other than (V, d),
    NaN/inf, an all-zero row, or a V×V result above the memory budget.
    """
    E = _v.real_array(embeddings, "embeddings", ndim=2, allow_empty=False)
    if E.shape[1] == 0:
        raise ValueError(f"embeddings: expected shape (V, d) with d >= 1, got {E.shape}")
    _v.check_memory(8.0 * E.shape[0] ** 2 * 2, "embeddings")
    scale = np.abs(E).max(axis=1, keepdims=True)
    if np.any(scale == 0):
        raise ValueError("embeddings: a row is all zeros, so its cosine cost is undefined")
    E = E / scale
    U = E / np.linalg.norm(E, axis=1, keepdims=True)
    return 1.0 - U @ U.T


# --- optimum of the CE + λ·EMO objective (notebook 01, Step 12) ---------------------------------


def mix_optimum(P: np.ndarray, a: np.ndarray, lam: float) -> np.ndarray:
    """Minimiser of ``-Σ_i P_i log q_i + λ Σ_i q_i a_i`` over the probability simplex (Step 12).

    With labels t ~ P and a = C P (expected cost of each token), this is the population optimum of
    CE + λ·EMO. KKT: ``q_i = P_i / (μ + λ a_i)`` on supp(P), where μ normalises q. A token outside
    supp(P) stays at 0 only while ``μ + λ a_i ≥ 0``; once that fails, μ is pinned at ``-λ min a``
    over the outside tokens and the leftover mass sits on the cheapest outside token (ties: the
    first). λ = 0 gives q = P. The root is found in δ = μ + λ min_supp a ∈ (0, 1], with the
    differences λ(a_i - min a) formed directly, so any finite λ works (no cancellation).

    Raises: TypeError for non-real input; ValueError unless P is a non-empty 1-D probability
    vector (non-negative, total 1 to 1e-9), a is finite of the same shape, and λ is finite ≥ 0.
    """
    P = _v.real_array(P, "P", ndim=1, allow_empty=False, low=0.0)
    a = _v.real_array(a, "a", ndim=1)
    if a.shape != P.shape:
        raise ValueError(f"a: expected shape {P.shape} (that of P), got {a.shape}")
    if abs(P.sum() - 1) > 1e-9:
        raise ValueError(f"P: expected total mass 1, got {P.sum():.12g}")
    lam = _v.real_scalar(lam, "lam", low=0.0)
    if lam == 0:
        return P.copy()
    supp = P > 0
    a_min = a[supp].min()
    with np.errstate(over="ignore"):  # λ·(a_i - a_min) may overflow to inf: then q_i = 0
        gap = lam * (a[supp] - a_min)  # ≥ 0, exactly 0 at the cheapest data tokens
    Ps = P[supp]

    def excess(delta: float) -> float:  # Σ P_i / (δ + λ(a_i - a_min)) - 1, decreasing in δ
        return float(np.sum(Ps / (delta + gap))) - 1.0

    # at δ = 1 every denominator is ≥ 1, so excess(1) ≤ 0; as δ → 0 it tends to +inf
    if excess(1.0) >= 0:
        delta = 1.0
    else:
        from scipy import optimize

        lo = 0.5 * Ps[gap == 0].sum()  # the root is ≥ this mass, and excess(lo) ≥ 1
        delta = optimize.brentq(excess, lo, 1.0, xtol=1e-300, rtol=4 * np.finfo(float).eps)
    q = np.zeros_like(P)
    outside = np.flatnonzero(~supp)
    if outside.size:
        k = outside[np.argmin(a[outside])]
        with np.errstate(over="ignore"):
            pull = lam * (a_min - a[k])  # μ + λ a_k = δ - pull
        if pull > delta:  # the cheapest outside token gets mass; μ is pinned at -λ a_k
            with np.errstate(over="ignore"):
                q[supp] = Ps / (lam * (a[supp] - a[k]))
            q[k] = max(0.0, 1.0 - q[supp].sum())
            return q
    q[supp] = Ps / (delta + gap)
    return q / q.sum()


# --- the toy "synonym" language (notebook 01, Steps 14-16) -------------------------------------


def _generator(rng, name: str = "rng") -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name}: expected a numpy.random.Generator, got {type(rng).__name__}")
    return rng


@dataclass(frozen=True)
class SynonymTask:
    """K concepts × S synonyms = V tokens. Concepts follow a Markov chain ``T`` (K×K); each token
    is a uniformly random synonym of its concept. ``cost_emb`` (V×d) is an oracle "pre-trained LM
    head": one random vector per concept plus ``noise``·N(0, I) per token (notebook 01, Step 14).

    Raises (on construction): TypeError for non-real arrays or a non-integer S; ValueError unless
    T is a square row-stochastic matrix with non-negative entries, S ≥ 1, K·S ≤ 10⁶ and cost_emb
    is (K·S, d) and finite."""

    T: np.ndarray  # (K, K) concept transition matrix
    S: int  # synonyms per concept
    cost_emb: np.ndarray  # (V, d)

    def __post_init__(self) -> None:
        T = _v.real_array(self.T, "T", ndim=2, allow_empty=False, low=0.0)
        if T.shape[0] != T.shape[1]:
            raise ValueError(f"T: expected a square (K, K) matrix, got shape {T.shape}")
        if not np.allclose(T.sum(1), 1.0, rtol=0, atol=1e-9):
            raise ValueError("T: expected rows that sum to 1 (a transition matrix)")
        S = _v.size(self.S, "S", low=1, high=_MAX_TOKENS)
        if T.shape[0] * S > _MAX_TOKENS:
            raise ValueError(f"S: K·S = {T.shape[0] * S} tokens exceeds the ceiling {_MAX_TOKENS}")
        emb = _v.real_array(self.cost_emb, "cost_emb", ndim=2)
        if emb.shape[0] != T.shape[0] * S or emb.shape[1] < 1:
            raise ValueError(f"cost_emb: expected shape ({T.shape[0] * S}, d), got {emb.shape}")
        object.__setattr__(self, "T", T)
        object.__setattr__(self, "S", S)
        object.__setattr__(self, "cost_emb", emb)

    @classmethod
    def make(cls, rng: np.random.Generator, K: int = 40, S: int = 5, alpha: float = 0.1,
             d: int = 32, noise: float = 0.3) -> SynonymTask:
        """A random task: rows of T ~ Dir(alpha), concept vectors N(0, I_d), token noise ``noise``.

        Raises: TypeError for a non-Generator rng or non-integer sizes; ValueError for K, S, d < 1,
        K·S or K·K above 10⁶, alpha not finite > 0, or noise not finite ≥ 0."""
        rng = _generator(rng)
        K = _v.size(K, "K", low=1, high=1000)
        S = _v.size(S, "S", low=1, high=_MAX_TOKENS)
        d = _v.size(d, "d", low=1, high=10_000)
        alpha = _v.real_scalar(alpha, "alpha", low=0.0, low_open=True)
        noise = _v.real_scalar(noise, "noise", low=0.0)
        if K * S > _MAX_TOKENS:
            raise ValueError(f"K, S: K·S = {K * S} tokens exceeds the ceiling {_MAX_TOKENS}")
        _v.check_memory(8.0 * K * S * d, "d")
        T = rng.dirichlet(np.full(K, alpha), size=K)
        bad = ~np.isfinite(T).all(1) | (T.sum(1) == 0)
        if bad.any():  # a tiny alpha can underflow a whole row to 0/0
            raise ValueError(f"alpha: {alpha:g} is too small; Dirichlet rows underflow")
        concept_vec = rng.standard_normal((K, d))
        emb = np.repeat(concept_vec, S, axis=0) + noise * rng.standard_normal((K * S, d))
        return cls(T=T, S=S, cost_emb=emb)

    @property
    def K(self) -> int:
        return self.T.shape[0]

    @property
    def V(self) -> int:
        return self.K * self.S

    @property
    def concept(self) -> np.ndarray:
        """Concept id of each token (V,)."""
        return np.repeat(np.arange(self.K), self.S)

    @property
    def P(self) -> np.ndarray:
        """True next-token distribution given the current token (V×V)."""
        _v.check_memory(8.0 * self.V**2 * 2, "S")
        return np.repeat(np.repeat(self.T, self.S, axis=0), self.S, axis=1) / self.S

    @property
    def stationary(self) -> np.ndarray:
        """Stationary distribution of the token chain (V,)."""
        w, v = np.linalg.eig(self.T.T)
        pi = np.real(v[:, np.argmin(np.abs(w - 1))])
        pi = pi / pi.sum()
        return np.repeat(pi, self.S) / self.S

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """A token sequence of length n + 1 started from the stationary distribution.

        Raises: TypeError for a non-integer n or a non-Generator rng; ValueError for n < 1 or
        n > 10⁷."""
        n = _v.size(n, "n", low=1, high=_MAX_SAMPLE)
        rng = _generator(rng)
        K, S = self.K, self.S
        c = np.empty(n + 1, dtype=np.int64)
        cum = np.cumsum(self.T, axis=1)
        c[0] = rng.choice(K, p=self.stationary.reshape(K, S).sum(1))
        u = rng.random(n)
        for i in range(n):
            c[i + 1] = min(np.searchsorted(cum[c[i]], u[i], side="right"), K - 1)
        return c * S + rng.integers(0, S, size=n + 1)

    def metrics(self, Q: np.ndarray) -> dict[str, float]:
        """Exact population metrics of a bigram model ``Q`` (V×V rows = next-token distributions),
        averaged over the stationary current token:

        nll: E[-log Q(y|x)]; concept_nll: E[-log Σ_{y' ~ y} Q(y'|x)] (recall of the right concept);
        precision: E_{y~Q}[log T(c(y)|c(x))] (how plausible the model's samples are);
        entropy: E[H(Q(·|x))].

        Raises: TypeError for non-real Q; ValueError unless Q is (V, V), finite, non-negative,
        with rows that sum to 1 (to 1e-6)."""
        Q = _v.real_array(Q, "Q", ndim=2, low=0.0)
        if Q.shape != (self.V, self.V):
            raise ValueError(f"Q: expected shape {(self.V, self.V)}, got {Q.shape}")
        if not np.allclose(Q.sum(1), 1.0, rtol=0, atol=1e-6):
            raise ValueError("Q: expected rows that sum to 1 (next-token distributions)")
        P, pi, c = self.P, self.stationary, self.concept
        logQ = np.log(np.clip(Q, 1e-300, None))
        Qc = Q.reshape(self.V, self.K, self.S).sum(2)  # mass on each concept
        logT = np.log(np.clip(self.T, 1e-300, None))[c]  # (V, K): log T(k | c(x))
        Pc = P.reshape(self.V, self.K, self.S).sum(2)
        return {
            "nll": float(pi @ -(P * logQ).sum(1)),
            "concept_nll": float(pi @ -(Pc * np.log(np.clip(Qc, 1e-300, None))).sum(1)),
            "precision": float(pi @ (Qc * logT).sum(1)),
            "entropy": float(pi @ -(Q * logQ).sum(1)),
        }

    def fit_bigram(self, seq: np.ndarray, loss: str = "CE", steps: int = 400,
                   seed: int = 0) -> np.ndarray:
        """Logits (V×V, float64) of the bigram network ``Embedding(V, 32) → tanh → Linear(32, V)``
        trained full-batch with Adam (lr 0.01) for ``steps`` steps on the (current, next) pairs of
        ``seq`` (notebook 01, Step 15). ``loss``: "CE", "EMO mix" (``emo_mix_loss``) or "pure EMO"
        (``emo_loss``), with ``cost_emb`` as the cost embeddings. The full-batch loss depends only
        on the pair counts, so each step evaluates it once per distinct pair, weighted by the
        pair's frequency. ``seed`` seeds torch, which draws only the initialisation; float32.

        Raises: TypeError for a non-integer seq, steps or seed; ValueError for an unknown loss,
        seq shorter than 2 or with ids outside [0, V), steps outside [0, 10⁵], seed < 0."""
        import torch
        import torch.nn.functional as F

        name = _v.choice(loss, "loss", ("CE", "EMO mix", "pure EMO"))
        if _v.is_tensor(seq):
            if seq.is_floating_point() or seq.is_complex():
                raise TypeError(f"seq: expected integer token ids, got a {seq.dtype} tensor")
            seq = seq.detach().cpu().numpy()
        seq = np.asarray(seq)
        if seq.dtype.kind not in "iu":
            raise TypeError(f"seq: expected integer token ids, got dtype {seq.dtype}")
        if seq.ndim != 1 or seq.size < 2:
            raise ValueError(f"seq: expected a 1-D sequence of >= 2 tokens, got shape {seq.shape}")
        if seq.min() < 0 or seq.max() >= self.V:
            raise ValueError(f"seq: token ids must lie in [0, {self.V})")
        steps = _v.size(steps, "steps", low=0, high=10**5)
        seed = _v.size(seed, "seed", low=0, high=2**63 - 1)
        E = torch.from_numpy(self.cost_emb).float()
        per_token = {
            "CE": lambda zz, y: F.cross_entropy(zz, y, reduction="none"),
            "EMO mix": lambda zz, y: emo_mix_loss(zz, y, E, reduction="none"),
            "pure EMO": lambda zz, y: emo_loss(zz, y, E, reduction="none"),
        }[name]
        torch.manual_seed(seed)  # initialisation only
        V = self.V
        model = torch.nn.Sequential(torch.nn.Embedding(V, 32), torch.nn.Tanh(), torch.nn.Linear(32, V))
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        pairs, counts = np.unique(seq[:-1] * V + seq[1:], return_counts=True)
        x, y = torch.from_numpy(pairs // V), torch.from_numpy(pairs % V)
        w = torch.from_numpy(counts / counts.sum()).float()
        every = torch.arange(V)
        for _ in range(steps):
            value = (w * per_token(model(every)[x], y)).sum()
            opt.zero_grad()
            value.backward()
            opt.step()
        with torch.no_grad():
            return model(every).double().numpy()

    def matched_temperature(self, logits: np.ndarray, precision: float) -> float:
        """The sampling temperature T in [0.05, 3] at which ``tempered(logits, T)`` has the given
        ``precision`` (``metrics``), by ``scipy.optimize.brentq`` (notebook 01, Step 15).

        Raises: TypeError for non-real input; ValueError for logits that are not (V, V) and
        finite, or a precision that no T in the bracket reaches."""
        from scipy import optimize

        logits = _v.real_array(logits, "logits", ndim=2)
        if logits.shape != (self.V, self.V):
            raise ValueError(f"logits: expected shape {(self.V, self.V)}, got {logits.shape}")
        target = _v.real_scalar(precision, "precision")
        gap = lambda T: self.metrics(tempered(logits, T))["precision"] - target  # noqa: E731
        lo, hi = gap(0.05), gap(3.0)
        if lo * hi > 0:
            raise ValueError(f"precision: {target:.4g} is not reached by any T in [0.05, 3] (from "
                             f"{hi + target:.4g} at T = 3 to {lo + target:.4g} at T = 0.05)")
        return optimize.brentq(gap, 0.05, 3.0, xtol=1e-10)


def tempered(logits: np.ndarray, T: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / T``: the next-token distributions sampled at temperature T.

    Raises: TypeError for non-real input; ValueError for non-finite logits or T not finite > 0."""
    z = _v.real_array(logits, "logits", ndim=2, allow_empty=False) / _v.real_scalar(
        T, "T", low=0.0, low_open=True)
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)
