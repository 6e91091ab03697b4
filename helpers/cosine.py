"""Local (per-block) versus global cosine similarity, for notebook 05 (kexue.fm/archives/9931).

Split two vectors into consecutive blocks ``x = [x_1, ..., x_k]``, ``y = [y_1, ..., y_k]`` of the
given ``sizes`` (for a model: one block per parameter tensor). With block norms
``a_i = |x_i|``, ``b_i = |y_i|`` and local cosines ``c_i = cos(x_i, y_i)``, the post's eq. (4)
generalises to

    cos(x, y) = sum_i a_i b_i c_i / (|a| |b|)                       (eq. 4, k blocks)
              = cos(a, b) * sum_i p_i c_i,   p_i = a_i b_i / sum_j a_j b_j       (factorisation)

so the global cosine is a weighted *mean* of the local cosines times a "dilution factor"
``cos(a, b) <= 1``, the cosine between the two block-norm profiles. Large local cosines say
nothing about that factor, which is the post's answer.

Everything here is plain numpy in float64; inputs may be array-likes or torch tensors (which are
detached and copied to the host). Bad input raises ``ValueError`` / ``TypeError`` naming the
argument. Block sums use ``np.add.reduceat``, and every block is rescaled by its largest entry
before squaring, so neither tiny nor huge blocks under- or overflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "cosine",
    "block_norms",
    "block_cosines",
    "block_weights",
    "dilution_factor",
    "decompose",
    "CosineSplit",
    "global_cosine",
    "cassels_bound",
    "ratio_spread",
    "pair_with_local_cosines",
    "rotate_to_cosine",
    "clip_local_cosines",
    "pearson",
    "within_between",
    "CovarianceSplit",
    "concat",
]


# --- validation ------------------------------------------------------------------------------


def _array(v: Any, name: str) -> np.ndarray:
    """``v`` as a float64 array (a copy for torch tensors), or a TypeError naming ``name``."""
    if hasattr(v, "detach"):  # torch tensor, on any device
        v = v.detach().cpu().numpy()
    try:
        arr = np.asarray(v)
    except Exception:  # ragged lists and the like
        raise TypeError(f"{name}: expected an array of real numbers") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _vector(v: Any, name: str) -> np.ndarray:
    arr = _array(v, name)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D vector, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"{name}: expected finite values, found {bad} NaN or infinite entries")
    return arr


def _pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    xv, yv = _vector(x, "x"), _vector(y, "y")
    if xv.size != yv.size:
        raise ValueError(f"y: length {yv.size} does not match the length {xv.size} of x")
    return xv, yv


def _sizes(sizes: Any, n: int | None) -> np.ndarray:
    """Validated block sizes: a 1-D sequence of positive integers that sums to ``n`` (if given)."""
    if hasattr(sizes, "detach"):
        sizes = sizes.detach().cpu().numpy()
    s = np.asarray(sizes)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(
            f"sizes: expected a non-empty 1-D sequence of block sizes, got shape {s.shape}")
    if s.dtype.kind not in "iu":
        raise TypeError(f"sizes: expected integers, got dtype {s.dtype}")
    if np.any(s < 1):
        raise ValueError(f"sizes: expected every block size >= 1, got minimum {int(s.min())}")
    if n is not None and int(s.sum()) != n:
        raise ValueError(
            f"sizes: the block sizes sum to {int(s.sum())}, not to the vector length {n}")
    return s.astype(np.intp)


def _starts(sizes: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(sizes)[:-1]))


def _scaled_blocks(v: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(v with each block divided by its max |entry|, those maxima (0 for a zero block), starts)."""
    starts = _starts(sizes)
    peak = np.maximum.reduceat(np.abs(v), starts)
    safe = np.where(peak > 0, peak, 1.0)
    return v / np.repeat(safe, sizes), peak, starts


def _no_zero_block(peak: np.ndarray, sizes: np.ndarray, name: str) -> None:
    if np.any(peak == 0):
        i = int(np.flatnonzero(peak == 0)[0])
        lo = int(sizes[:i].sum())
        raise ValueError(
            f"{name}: block {i} (entries {lo}:{lo + int(sizes[i])}) is zero, so its local cosine "
            "is undefined"
        )


def _unit_interval(c: np.ndarray) -> np.ndarray:
    return np.clip(c, -1.0, 1.0)  # rounding only: |c| <= 1 by Cauchy-Schwarz


# --- cosines of whole vectors and of blocks ----------------------------------------------------


def cosine(x: Any, y: Any) -> float:
    """cos(x, y) = <x, y> / (|x| |y|) of two non-zero vectors of equal length."""
    xv, yv = _pair(x, y)
    sizes = np.array([xv.size])
    xs, px, _ = _scaled_blocks(xv, sizes)
    ys, py, _ = _scaled_blocks(yv, sizes)
    if px[0] == 0:
        raise ValueError("x: the zero vector has no direction, so the cosine is undefined")
    if py[0] == 0:
        raise ValueError("y: the zero vector has no direction, so the cosine is undefined")
    c = xs @ ys / (np.sqrt(xs @ xs) * np.sqrt(ys @ ys))
    return float(_unit_interval(c))


def block_norms(x: Any, sizes: Sequence[int]) -> np.ndarray:
    """The block-norm profile (|x_1|, ..., |x_k|) of ``x`` cut into blocks of ``sizes``."""
    xv = _vector(x, "x")
    s = _sizes(sizes, xv.size)
    xs, peak, starts = _scaled_blocks(xv, s)
    return peak * np.sqrt(np.add.reduceat(xs * xs, starts))


def block_cosines(x: Any, y: Any, sizes: Sequence[int]) -> np.ndarray:
    """The local cosines c_i = cos(x_i, y_i) of consecutive blocks of the given ``sizes``.

    Every block of both vectors must be non-zero (a zero block has no local cosine).
    """
    xv, yv = _pair(x, y)
    s = _sizes(sizes, xv.size)
    xs, px, starts = _scaled_blocks(xv, s)
    ys, py, _ = _scaled_blocks(yv, s)
    _no_zero_block(px, s, "x")
    _no_zero_block(py, s, "y")
    dot = np.add.reduceat(xs * ys, starts)
    nx = np.sqrt(np.add.reduceat(xs * xs, starts))
    ny = np.sqrt(np.add.reduceat(ys * ys, starts))
    return _unit_interval(dot / (nx * ny))


def _profile_cosine(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> float:
    """cos(a, b) of two non-negative profiles, rescaled first (the norms may span many decades)."""
    if a.max() == 0:
        raise ValueError(f"{name_a}: the zero vector has no direction, so the cosine is undefined")
    if b.max() == 0:
        raise ValueError(f"{name_b}: the zero vector has no direction, so the cosine is undefined")
    ah, bh = a / a.max(), b / b.max()
    return float(_unit_interval(ah @ bh / (np.sqrt(ah @ ah) * np.sqrt(bh @ bh))))


def dilution_factor(x: Any, y: Any, sizes: Sequence[int]) -> float:
    """cos(a, b) between the block-norm profiles a_i = |x_i| and b_i = |y_i|: the factor in
    cos(x, y) = cos(a, b) * sum_i p_i c_i. It lies in [0, 1]; 1 iff the profiles are parallel.

    Zero blocks are allowed here (they simply have norm 0).
    """
    xv, yv = _pair(x, y)
    s = _sizes(sizes, xv.size)
    return _profile_cosine(block_norms(xv, s), block_norms(yv, s), "x", "y")


def block_weights(x: Any, y: Any, sizes: Sequence[int]) -> np.ndarray:
    """The weights w_i = |x_i| |y_i| / (|x| |y|) of eq. (4): cos(x, y) = sum_i w_i c_i.

    They are not a probability vector: sum_i w_i = dilution_factor(x, y, sizes) <= 1.
    """
    xv, yv = _pair(x, y)
    s = _sizes(sizes, xv.size)
    a, b = block_norms(xv, s), block_norms(yv, s)
    if a.max() == 0 or b.max() == 0:
        raise ValueError(f"{'x' if a.max() == 0 else 'y'}: the zero vector has no direction")
    ah, bh = a / a.max(), b / b.max()
    return ah * bh / (np.sqrt(ah @ ah) * np.sqrt(bh @ bh))


class CosineSplit(NamedTuple):
    """cos = dilution * mean_local, with mean_local = sum(weights * local) and sum(weights) = 1."""

    cos: float  # the global cosine cos(x, y)
    local: np.ndarray  # c_i
    weights: np.ndarray  # p_i = a_i b_i / sum_j a_j b_j, a probability vector
    mean_local: float  # sum_i p_i c_i
    dilution: float  # cos(a, b)


def decompose(x: Any, y: Any, sizes: Sequence[int]) -> CosineSplit:
    """The global cosine and its factorisation: cos = dilution * (weighted mean local cosine)."""
    xv, yv = _pair(x, y)
    s = _sizes(sizes, xv.size)
    local = block_cosines(xv, yv, s)
    w = block_weights(xv, yv, s)
    p = w / w.sum()
    return CosineSplit(cosine(xv, yv), local, p, float(p @ local), dilution_factor(xv, yv, s))


def global_cosine(local: Any, x_norms: Any, y_norms: Any) -> np.ndarray:
    """The global cosine from block data alone, eq. (4): sum_i a_i b_i c_i / (|a| |b|).

    Broadcasts over leading axes; the blocks run along the last axis. Useful for sweeping the
    norm profiles at fixed local cosines without building any vectors.
    """
    c = _array(local, "local")
    a = _array(x_norms, "x_norms")
    b = _array(y_norms, "y_norms")
    for arr, name in ((c, "local"), (a, "x_norms"), (b, "y_norms")):
        if arr.ndim == 0:
            raise ValueError(f"{name}: expected at least one axis (the blocks)")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: expected finite values")
    if np.any(np.abs(c) > 1):
        raise ValueError("local: cosines must lie in [-1, 1]")
    for arr, name in ((a, "x_norms"), (b, "y_norms")):
        if np.any(arr < 0):
            raise ValueError(f"{name}: norms must be >= 0")
        if np.any(arr.max(axis=-1) == 0):
            raise ValueError(f"{name}: a profile is all zero, so the global cosine is undefined")
    try:
        shape = np.broadcast_shapes(c.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"local, x_norms, y_norms: shapes {c.shape}, {a.shape}, {b.shape} do not broadcast"
        ) from None
    ah = a / a.max(axis=-1, keepdims=True)
    bh = b / b.max(axis=-1, keepdims=True)
    num = (ah * bh * c).sum(axis=-1)
    den = np.sqrt((ah * ah).sum(axis=-1)) * np.sqrt((bh * bh).sum(axis=-1))
    return np.broadcast_to(_unit_interval(num / den), shape[:-1]).copy()


# --- a lower bound when the norm ratios are controlled -----------------------------------------


def cassels_bound(kappa: Any) -> np.ndarray | float:
    """2 sqrt(kappa) / (1 + kappa): the least cos(a, b) of two positive profiles whose ratios
    a_i / b_i lie within a factor kappa >= 1 of each other (Cassels / Polya-Szego)."""
    k = _array(kappa, "kappa")
    if not np.all(np.isfinite(k)) or np.any(k < 1):
        raise ValueError("kappa: expected finite ratios >= 1")
    out = 2 * np.sqrt(k) / (1 + k)
    return float(out) if out.ndim == 0 else out


def ratio_spread(x: Any, y: Any, sizes: Sequence[int]) -> float:
    """kappa = max_i r_i / min_i r_i for the block-norm ratios r_i = |x_i| / |y_i| (>= 1)."""
    xv, yv = _pair(x, y)
    s = _sizes(sizes, xv.size)
    a, b = block_norms(xv, s), block_norms(yv, s)
    for arr, name in ((a, "x"), (b, "y")):
        if np.any(arr == 0):
            raise ValueError(f"{name}: block {int(np.flatnonzero(arr == 0)[0])} is zero, "
                             "so its norm ratio is undefined")
    logr = np.log(a) - np.log(b)
    return float(np.exp(logr.max() - logr.min()))


# --- constructions ---------------------------------------------------------------------------


def pair_with_local_cosines(
    local: Any, x_norms: Any, y_norms: Any, sizes: Sequence[int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random vectors x, y whose blocks have exactly the given norms and local cosines.

    Block i gets a random unit vector e and a random unit f orthogonal to it;
    x_i = a_i e and y_i = b_i (c_i e + sqrt(1 - c_i^2) f). A block of size 1 only allows c = +-1.
    """
    c = _vector(local, "local")
    a = _vector(x_norms, "x_norms")
    b = _vector(y_norms, "y_norms")
    if not (c.size == a.size == b.size):
        raise ValueError(f"local, x_norms, y_norms: expected equal lengths, got {c.size}, "
                         f"{a.size}, {b.size}")
    s = _sizes(sizes, None)
    if s.size != c.size:
        raise ValueError(f"sizes: expected {c.size} blocks, got {s.size}")
    if np.any(np.abs(c) > 1):
        raise ValueError("local: cosines must lie in [-1, 1]")
    if np.any(a <= 0) or np.any(b <= 0):
        raise ValueError(f"{'x_norms' if np.any(a <= 0) else 'y_norms'}: norms must be > 0")
    if np.any((s == 1) & (np.abs(c) < 1)):
        raise ValueError("local: a block of size 1 can only have local cosine +1 or -1")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng: expected a numpy.random.Generator")
    xs, ys = [], []
    for ci, ai, bi, di in zip(c, a, b, s):
        e = rng.standard_normal(di)
        e /= np.linalg.norm(e)
        if di > 1:
            f = rng.standard_normal(di)
            f -= (f @ e) * e
            f /= np.linalg.norm(f)
        else:
            f = np.zeros(1)
        xs.append(ai * e)
        ys.append(bi * (ci * e + np.sqrt(max(0.0, 1 - ci * ci)) * f))
    return np.concatenate(xs), np.concatenate(ys)


def rotate_to_cosine(u: Any, g: Any, lam: float) -> np.ndarray:
    """u rotated in the plane span{u, g} so that cos(u', g) = lam exactly, keeping |u'| = |u|:
    u' = |u| (lam g/|g| + sqrt(1 - lam^2) e), e the unit part of u orthogonal to g.

    If u is parallel to g there is no such plane; then e is the unit vector orthogonal to g
    nearest to the coordinate axis least aligned with g (needs len(u) >= 2 unless |lam| = 1).
    """
    uv, gv = _vector(u, "u"), _vector(g, "g")
    if uv.size != gv.size:
        raise ValueError(f"g: length {gv.size} does not match the length {uv.size} of u")
    if not np.isfinite(lam) or abs(lam) > 1:
        raise ValueError(f"lam: expected a cosine in [-1, 1], got {lam!r}")
    nu, ng = np.linalg.norm(uv), np.linalg.norm(gv)
    if nu == 0 or ng == 0:
        raise ValueError(f"{'u' if nu == 0 else 'g'}: the zero vector has no direction")
    gh = gv / ng
    perp = uv / nu - (uv / nu @ gh) * gh
    if np.linalg.norm(perp) < 1e-12:
        if uv.size == 1:
            if abs(lam) < 1:
                raise ValueError("u: a 1-D vector can only have cosine +1 or -1 with g")
            return lam * nu * gh
        axis = np.zeros_like(gh)
        axis[np.argmin(np.abs(gh))] = 1.0
        perp = axis - (axis @ gh) * gh
    perp /= np.linalg.norm(perp)
    return nu * (lam * gh + np.sqrt(1 - lam * lam) * perp)


def clip_local_cosines(u: Any, g: Any, sizes: Sequence[int], lam: float) -> np.ndarray:
    """u with every block whose local cosine with g is below ``lam`` rotated (norm kept) to have
    local cosine exactly ``lam``; the other blocks are returned unchanged."""
    uv, gv = _vector(u, "u"), _vector(g, "g")
    if uv.size != gv.size:
        raise ValueError(f"g: length {gv.size} does not match the length {uv.size} of u")
    s = _sizes(sizes, uv.size)
    local = block_cosines(uv, gv, s)
    out = uv.copy()
    bounds = np.concatenate(([0], np.cumsum(s)))
    for i in np.flatnonzero(local < lam):
        sl = slice(bounds[i], bounds[i + 1])
        out[sl] = rotate_to_cosine(uv[sl], gv[sl], lam)
    return out


# --- correlation: Pearson's r and Simpson's paradox ---------------------------------------------


def pearson(x: Any, y: Any) -> float:
    """Pearson's r = cos(x - mean(x), y - mean(y)), eqs. (7)-(8) of the post."""
    xv, yv = _pair(x, y)
    xc, yc = xv - xv.mean(), yv - yv.mean()
    if not np.any(xc):
        raise ValueError("x: constant data have no correlation (zero variance)")
    if not np.any(yc):
        raise ValueError("y: constant data have no correlation (zero variance)")
    return cosine(xc, yc)


class CovarianceSplit(NamedTuple):
    """within + between = sum_n (x_n - mean x)(y_n - mean y), the pooled co-variation."""

    within: float  # sum_g sum_{n in g} (x_n - mean_g x)(y_n - mean_g y)
    between: float  # sum_g n_g (mean_g x - mean x)(mean_g y - mean y)


def within_between(x: Any, y: Any, sizes: Sequence[int]) -> CovarianceSplit:
    """Split the pooled sum of centred products into within- and between-group parts (law of
    total covariance); the groups are the consecutive blocks of ``sizes``."""
    xv, yv = _pair(x, y)
    s = _sizes(sizes, xv.size)
    starts = _starts(s)
    mx = np.add.reduceat(xv, starts) / s
    my = np.add.reduceat(yv, starts) / s
    within = float(np.sum((xv - np.repeat(mx, s)) * (yv - np.repeat(my, s))))
    between = float(np.sum(s * (mx - xv.mean()) * (my - yv.mean())))
    return CovarianceSplit(within, between)


# --- plumbing --------------------------------------------------------------------------------


def concat(blocks: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Flatten a sequence of arrays or tensors (e.g. one per parameter tensor) into one float64
    vector and the block sizes that cut it back: ``x, sizes = concat(tensors)``."""
    if isinstance(blocks, (str, bytes)) or not isinstance(blocks, Sequence) or not blocks:
        raise TypeError("blocks: expected a non-empty sequence of arrays or tensors")
    flat = [_array(b, f"blocks[{i}]").ravel() for i, b in enumerate(blocks)]
    for i, f in enumerate(flat):
        if f.size == 0:
            raise ValueError(f"blocks[{i}]: is empty")
    return np.concatenate(flat), np.array([f.size for f in flat], dtype=np.intp)
