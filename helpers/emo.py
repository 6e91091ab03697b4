"""EMO, the optimal-transport classification loss of notebook 01 (kexue.fm/archives/9797).

Notation: logits ``z`` of shape (..., V), probabilities ``p = softmax(z)``, target ids ``t``, and
frozen cost embeddings ``E`` (V, d) with unit rows ``Ê``. The cost of moving mass from token i to
token t is ``c_it = 1 - <Ê_i, Ê_t>`` (eq. 8). With a one-hot target the transport problem has a
single feasible plan, so the earth mover's cost is (eqs. 5 and 9)

    L_EMO = sum_i p_i c_it = 1 - < sum_i p_i Ê_i , Ê_t >,

one probability-weighted sum of normalised embeddings per token. Its gradient (the notebook's
E3) is ``dL/dz_j = p_j (c_jt - L_EMO)``.

Contents
- ``emo_loss``: eq. (9) in torch, O(N·V·d) with a single N×V buffer; no V×V cost, no one-hot.
- ``emo_mix_loss``: the detached-ratio CE + EMO mix that the official code trains with.
- ``emo_official``: the official code's dense recipe (one-hot @ Ê), for checks and benchmarks.
- ``transport_cost``, ``cosine_cost``: reference optimal transport (POT, or scipy's LP).
- ``mix_optimum``: minimiser of E_P[-log q] + λ q·a over the simplex (the notebook's E6).
- ``SynonymTask``: the toy "synonym" language of the notebook, with exact metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ot
import torch
import torch.nn.functional as F
from scipy import optimize
from torch.autograd.function import once_differentiable

__all__ = [
    "emo_loss",
    "emo_mix_loss",
    "emo_official",
    "transport_cost",
    "cosine_cost",
    "mix_optimum",
    "SynonymTask",
]

_REDUCTIONS = ("mean", "sum", "none")


# --- input checks ----------------------------------------------------------------------------


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64 (for exact checks); every other float type is computed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _validate(
    logits: torch.Tensor,
    targets: torch.Tensor,
    embeddings: torch.Tensor,
    ignore_index: int,
    reduction: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check shapes, dtypes, ranges and finiteness; return (logits 2-D view, safe ids, mask).

    ``safe ids`` equals ``targets`` with ignored positions replaced by 0 (so they can index), and
    ``mask`` is 1.0 where a token counts and 0.0 where it is ignored (compute dtype).
    """
    for name, x in (("logits", logits), ("targets", targets), ("embeddings", embeddings)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"logits: expected a floating dtype, got {logits.dtype}")
    if not embeddings.is_floating_point():
        raise TypeError(f"embeddings: expected a floating dtype, got {embeddings.dtype}")
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise TypeError(f"targets: expected an integer dtype, got {targets.dtype}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction: expected one of {_REDUCTIONS}, got {reduction!r}")
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
    if logits.numel() and not bool(torch.isfinite(torch.stack(torch.aminmax(logits))).all()):
        # one reduction over the logits, no N×V temporary
        raise ValueError("logits: expected finite values, found NaN or ±inf")
    norms = torch.linalg.vector_norm(embeddings.detach(), dim=1)  # NaN/inf propagate; no V×d copy
    if not bool(torch.isfinite(norms).all()):
        raise ValueError("embeddings: expected finite values, found NaN or ±inf")
    if bool((norms == 0).any()):
        raise ValueError("embeddings: a row is all zeros, so its cosine cost is undefined")
    ct = _compute_dtype(logits.dtype)
    flat_t = targets.reshape(-1)
    flat_m = mask.reshape(-1)
    safe = torch.where(flat_m, flat_t, torch.zeros_like(flat_t)).long()
    return logits.reshape(-1, V), safe, flat_m.to(ct)


def _unit_rows(embeddings: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Ê: rows of the frozen cost embeddings scaled to unit length (detached: the cost is fixed)."""
    return F.normalize(embeddings.detach().to(dtype), dim=1, eps=1e-30)


# --- the fused loss ----------------------------------------------------------------------------


class _EmoAndCE(torch.autograd.Function):
    """Per-token (EMO, CE) from one softmax, with the hand-derived backward.

    forward: p = softmax(z) (the single N×V buffer), m = p @ Ê (N×d),
             EMO = 1 - <m, Ê_t>, CE = logsumexp(z) - z_t.
    backward, for upstream weights w (EMO) and a (CE):
             dz = p ⊙ (a + w (1 - EMO) - (w Ê_t) @ Êᵀ) - a·onehot(t),
    i.e. w·p_j (c_jt - EMO) + a (p_j - δ_jt), written into one N×V buffer (one GEMM + one pass).
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
        ctx.save_for_backward(p, unit, safe, mask, emo)  # p: the softmax buffer, not a copy
        ctx.in_dtype = z2d.dtype
        return emo, ce

    @staticmethod
    @once_differentiable
    def backward(ctx, g_emo, g_ce):  # noqa: D102
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        p, unit, safe, mask, emo = ctx.saved_tensors
        w = g_emo.to(unit.dtype) * mask
        a = g_ce.to(unit.dtype) * mask
        e_t = unit.index_select(0, safe)
        # G = (a + w(1 - EMO)) 1ᵀ - (w Ê_t) Êᵀ, then G ⊙= p, then G[i, t_i] -= a_i
        grad = torch.addmm((a + w * (1.0 - emo))[:, None], e_t * (-w)[:, None], unit.T)
        grad.mul_(p)
        grad.scatter_add_(1, safe[:, None], -a[:, None])
        return grad.to(ctx.in_dtype), None, None, None


def _per_token(logits, targets, embeddings, ignore_index, reduction):
    z2d, safe, mask = _validate(logits, targets, embeddings, ignore_index, reduction)
    unit = _unit_rows(embeddings, mask.dtype)
    emo, ce = _EmoAndCE.apply(z2d, unit, safe, mask)
    return emo, ce, mask


def _reduce(per_token: torch.Tensor, mask: torch.Tensor, shape, reduction: str) -> torch.Tensor:
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
    """EMO loss, eq. (9): ``1 - <Σ_i p_i Ê_i, Ê_t>`` per token, with ``p = softmax(logits)``.

    Args:
        logits: (..., V) scores of any float dtype; float16/bfloat16 are computed in float32,
            float64 in float64. Must be finite.
        targets: (...) integer class ids in [0, V), or ``ignore_index`` for positions that do not
            count (their loss and gradient are 0).
        embeddings: (V, d) cost embeddings, e.g. a pre-trained LM head. Rows are normalised and
            treated as constants (the transport cost is fixed; no gradient flows into them).
        reduction: "mean" over the counted tokens (0 when there are none), "sum", or "none"
            (shape of ``targets``).

    Returns: the loss in the compute dtype (float32, or float64 for float64 logits). The gradient
    with respect to ``logits`` has the logits' dtype. Cost: one N×V softmax buffer (kept for the
    backward pass), two N×V×d matrix products (forward and backward), no V×V or one-hot tensor.
    """
    emo, _, mask = _per_token(logits, targets, embeddings, ignore_index, reduction)
    return _reduce(emo, mask, targets.shape, reduction)


def emo_mix_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    embeddings: torch.Tensor,
    ignore_index: int = -100,
    reduction: str = "mean",
    mode: int = 1,
    max_ratio: float | None = None,
) -> torch.Tensor:
    """CE + EMO mixed with a detached per-token ratio, as the official EMO code trains.

    mode 1: ``½ (CE + sg[CE / EMO] · EMO)``  (gradient: ½ ∇CE + ½ (CE/EMO) ∇EMO)
    mode 2: ``sg[EMO / CE] · CE + EMO``       (gradient: (EMO/CE) ∇CE + ∇EMO)

    ``sg`` is stop-gradient. EMO here is the exact value of eq. (9), as in the official code's
    first version (later versions log a value offset by p_t; see ``emo_official``). The
    denominator is floored at 8·eps of the compute dtype, so ignored tokens (CE = EMO = 0) give 0,
    not 0/0. ``max_ratio`` optionally caps the ratio (some official versions cap mode 1 at 3).
    Arguments otherwise as in ``emo_loss``; CE and EMO share one softmax.
    """
    if mode not in (1, 2):
        raise ValueError(f"mode: expected 1 or 2, got {mode!r}")
    if max_ratio is not None and not max_ratio > 0:
        raise ValueError(f"max_ratio: expected a positive number or None, got {max_ratio!r}")
    emo, ce, mask = _per_token(logits, targets, embeddings, ignore_index, reduction)
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
    """The official code's dense recipe, re-typed from its description (for checks, benchmarks).

    Builds a float one-hot of the targets and multiplies it by Ê (an N×V by V×d product) to get
    Ê_t, and ``q @ Ê`` with ``q = exp(log_softmax(z))``. With ``offset=True`` (code after
    2023-11-21) the target's own probability is removed from q with a stop-gradient, so the value
    is EMO + p_t while the gradient is unchanged. ``mode=None`` returns the per-token EMO values;
    mode 1 or 2 returns the masked mean of the mix (see ``emo_mix_loss``). No input checks.
    """
    V = logits.shape[-1]
    ct = _compute_dtype(logits.dtype)
    z = logits.reshape(-1, V).to(ct)
    t = targets.reshape(-1)
    mask = t != ignore_index
    t = torch.where(t == ignore_index, torch.zeros_like(t), t)
    mask = mask.to(ct)
    one_hot = F.one_hot(t, V)  # N×V integer one-hot, as in the official code
    stable = (one_hot + 1e-15).to(ct)
    stable = stable / stable.sum(-1, keepdim=True)  # its "stable" one-hot (1e-15 is lost in fp32)
    unit = F.normalize(embeddings.detach().to(ct), dim=-1)
    e_t = stable @ unit  # an N×V×d product to fetch the rows Ê_t
    q = torch.log_softmax(z, dim=-1).exp()
    if offset:
        q = q - (q * one_hot).detach()  # value EMO + p_t, same gradient
    emo = 1.0 - ((q @ unit) * e_t).sum(-1)
    if mode is None:
        return emo * mask
    ce = F.cross_entropy(z, t, reduction="none")
    if mode == 1:
        ratio = (ce / (emo + 1e-10)).detach()
        if max_ratio is not None:
            ratio = ratio.clamp_max(max_ratio)
        loss = 0.5 * (ce + ratio * emo)
    elif mode == 2:
        loss = (emo / (ce + 1e-10)).detach() * ce + emo
    else:
        raise ValueError(f"mode: expected None, 1 or 2, got {mode!r}")
    return (loss * mask).sum() / (mask.sum() + 1e-15)


# --- reference optimal transport (numpy, float64) ----------------------------------------------


def _as_distribution(name: str, x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D array, got shape {x.shape}")
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError(f"{name}: expected finite non-negative masses")
    return x


def transport_cost(p, q, cost, method: str = "pot") -> float:
    """Optimal transport cost, eq. (4): ``min_γ Σ γ_ij c_ij`` over couplings of ``p`` and ``q``.

    ``method="pot"`` uses POT's network simplex (``ot.emd2``); ``"linprog"`` solves the same
    linear programme with scipy's HiGHS (a V·W-variable LP), as an independent check.
    ``p`` (V,) and ``q`` (W,) are non-negative with equal totals (to 1e-9); ``cost`` is (V, W).
    """
    p, q = _as_distribution("p", p), _as_distribution("q", q)
    cost = np.asarray(cost, dtype=float)
    if cost.shape != (p.size, q.size):
        raise ValueError(f"cost: expected shape {(p.size, q.size)}, got {cost.shape}")
    if not np.all(np.isfinite(cost)):
        raise ValueError("cost: expected finite entries")
    if abs(p.sum() - q.sum()) > 1e-9 * max(1.0, p.sum()):
        raise ValueError(f"p, q: expected equal total mass, got {p.sum():.12g} and {q.sum():.12g}")
    if method == "pot":
        return float(ot.emd2(p, q, cost))
    if method == "linprog":
        V, W = cost.shape
        rows = np.kron(np.eye(V), np.ones((1, W)))  # Σ_j γ_ij = p_i
        cols = np.kron(np.ones((1, V)), np.eye(W))  # Σ_i γ_ij = q_j
        res = optimize.linprog(
            cost.ravel(), A_eq=np.vstack([rows, cols]), b_eq=np.concatenate([p, q]),
            bounds=(0, None), method="highs",
        )
        if res.status != 0:
            raise RuntimeError(f"linprog failed: {res.message}")
        return float(res.fun)
    raise ValueError(f"method: expected 'pot' or 'linprog', got {method!r}")


def cosine_cost(embeddings) -> np.ndarray:
    """The V×V cost of eq. (8), ``c_ij = 1 - cos(e_i, e_j)``, from (V, d) embeddings."""
    E = np.asarray(embeddings, dtype=float)
    if E.ndim != 2:
        raise ValueError(f"embeddings: expected shape (V, d), got {E.shape}")
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    if np.any(norms == 0) or not np.all(np.isfinite(E)):
        raise ValueError("embeddings: expected finite rows with non-zero norm")
    U = E / norms
    return 1.0 - U @ U.T


# --- optimum of the CE + λ·EMO objective (notebook: E5, E6) -------------------------------------


def mix_optimum(P, a, lam: float) -> np.ndarray:
    """Minimiser of ``-Σ_i P_i log q_i + λ Σ_i q_i a_i`` over the probability simplex.

    With labels t ~ P and a = C P (expected cost of each token), this is the population optimum of
    CE + λ·EMO. KKT: ``q_i = P_i / (μ + λ a_i)`` on supp(P), where μ normalises q. A token outside
    supp(P) stays at 0 only while ``μ + λ a_i ≥ 0``; once that fails, μ is pinned at ``-λ min a``
    over the outside tokens and the leftover mass sits on the cheapest outside token (ties: the
    first). λ = 0 gives q = P.
    """
    P, a = _as_distribution("P", P), np.asarray(a, dtype=float)
    if a.shape != P.shape or not np.all(np.isfinite(a)):
        raise ValueError(f"a: expected finite values of shape {P.shape}, got {a.shape}")
    if abs(P.sum() - 1) > 1e-9:
        raise ValueError(f"P: expected total mass 1, got {P.sum():.12g}")
    if not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam: expected a finite λ ≥ 0, got {lam!r}")
    supp = P > 0
    q = np.zeros_like(P)
    if lam == 0:
        return P.copy()
    lo = -lam * a[supp].min()  # μ must exceed this so every q_i on supp(P) is positive

    def excess(mu):
        return np.sum(P[supp] / (mu + lam * a[supp])) - 1.0

    hi = lo + 1.0
    while excess(hi) > 0:
        hi = lo + 2 * (hi - lo)
    mu = optimize.brentq(excess, lo + 1e-300 + 1e-15 * abs(lo), hi, xtol=1e-15, rtol=1e-15)
    outside = np.flatnonzero(~supp)
    if outside.size and mu + lam * a[outside].min() < 0:
        k = outside[np.argmin(a[outside])]
        mu = -lam * a[k]
        q[supp] = P[supp] / (mu + lam * a[supp])
        q[k] = 1.0 - q[supp].sum()
        return q
    q[supp] = P[supp] / (mu + lam * a[supp])
    return q / q.sum()


# --- the toy "synonym" language -------------------------------------------------------------------


@dataclass(frozen=True)
class SynonymTask:
    """K concepts × S synonyms = V tokens. Concepts follow a Markov chain ``T`` (K×K); each token
    is a uniformly random synonym of its concept. ``cost_emb`` (V×d) is an oracle "pre-trained LM
    head": one random vector per concept plus ``noise``·N(0, I) per token."""

    T: np.ndarray  # (K, K) concept transition matrix
    S: int  # synonyms per concept
    cost_emb: np.ndarray  # (V, d)

    @classmethod
    def make(cls, rng: np.random.Generator, K: int = 40, S: int = 5, alpha: float = 0.1,
             d: int = 32, noise: float = 0.3) -> SynonymTask:
        T = rng.dirichlet(np.full(K, alpha), size=K)
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
        return np.repeat(np.repeat(self.T, self.S, axis=0), self.S, axis=1) / self.S

    @property
    def stationary(self) -> np.ndarray:
        """Stationary distribution of the token chain (V,)."""
        w, v = np.linalg.eig(self.T.T)
        pi = np.real(v[:, np.argmin(np.abs(w - 1))])
        pi = pi / pi.sum()
        return np.repeat(pi, self.S) / self.S

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """A token sequence of length n + 1 started from the stationary distribution."""
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
        entropy: E[H(Q(·|x))]."""
        Q = np.asarray(Q, dtype=float)
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
