"""Local (per-block) versus global cosine similarity, for notebook 05 (kexue.fm/archives/9931).

Split two vectors into consecutive blocks ``x = [x_1, ..., x_k]``, ``y = [y_1, ..., y_k]`` of the
given ``sizes`` (for a model: one block per parameter tensor). With block norms
``a_i = |x_i|``, ``b_i = |y_i|`` and local cosines ``c_i = cos(x_i, y_i)``, the post's eq. (4)
generalises to

    cos(x, y) = sum_i a_i b_i c_i / (|a| |b|)                       (eq. 4, k blocks)
              = cos(a, b) * sum_i p_i c_i,   p_i = a_i b_i / sum_j a_j b_j       (factorisation)

so the global cosine is a weighted *mean* of the local cosines times a "dilution factor"
``cos(a, b) <= 1``, the cosine between the two block-norm profiles (section 3.1 of notebook 05).
Large local cosines say nothing about that factor, which is the post's answer. The same algebra
applied to the within-group / between-group split of centred data gives the exact decomposition
of a pooled correlation (:func:`correlation_split`, section 6.5 of notebook 05).

Conventions (the rules of ``helpers._validate``):

* Plain numpy in float64. Array arguments may be array-likes or torch tensors; tensors are
  ``.detach()``-ed and copied to the host (any dtype, bfloat16 included, any ``requires_grad``),
  so results are numpy arrays / floats without autograd.
* Bad input raises ``ValueError`` / ``TypeError`` naming the argument; complex input is rejected,
  never cut to its real part; NaN and infinities are rejected.
* Every norm is computed on a copy rescaled by its largest entry (blocks and whole vectors), so
  neither tiny nor huge entries under- or overflow (``rotate_to_cosine([3e200, 4e200], ...)`` is
  finite).
* Inputs are never mutated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from helpers._validate import check_memory, is_tensor, real_array, real_scalar

__all__ = [
    "cosine",
    "block_norms",
    "block_cosines",
    "block_weights",
    "dilution_factor",
    "decompose",
    "CosineSplit",
    "global_cosine",
    "clip_threshold",
    "cassels_bound",
    "ratio_spread",
    "pair_with_local_cosines",
    "rotate_to_cosine",
    "clip_local_cosines",
    "pearson",
    "within_between",
    "CovarianceSplit",
    "correlation_split",
    "CorrelationSplit",
    "concat",
]

_MAX_BLOCKS_BYTES_FACTOR = 8 * 4  # float64 entries, about four temporaries per entry


# --- validation (on top of helpers._validate) --------------------------------------------------


def _vector(v: Any, name: str) -> np.ndarray:
    """A non-empty 1-D float64 copy of ``v`` with finite real entries (helpers._validate rules)."""
    return real_array(v, name, ndim=1, allow_empty=False)


def _pair(x: Any, y: Any, nx: str = "x", ny: str = "y") -> tuple[np.ndarray, np.ndarray]:
    xv, yv = _vector(x, nx), _vector(y, ny)
    if xv.size != yv.size:
        raise ValueError(f"{ny}: length {yv.size} does not match the length {xv.size} of {nx}")
    return xv, yv


def _sizes(sizes: Any, n: int | None, of: str = "x") -> np.ndarray:
    """Validated block sizes: a 1-D sequence of integers >= 1 that sums to ``n`` (if given).

    ``helpers._validate`` has no integer-array check, so this is the one place that does it.
    """
    if is_tensor(sizes):
        if sizes.is_floating_point() or sizes.is_complex():
            raise TypeError(f"sizes: expected integers, got a tensor of dtype {sizes.dtype}")
        sizes = sizes.detach().cpu().numpy()
    if sizes is None or isinstance(sizes, (str, bytes)):
        raise TypeError(f"sizes: expected a sequence of integers, got {type(sizes).__name__}")
    try:
        s = np.asarray(sizes)
    except (TypeError, ValueError):
        raise TypeError("sizes: expected a sequence of integers") from None
    if s.ndim != 1 or s.size == 0:
        raise ValueError(
            f"sizes: expected a non-empty 1-D sequence of block sizes, got shape {s.shape}")
    if s.dtype == np.bool_ or s.dtype.kind not in "iu":
        raise TypeError(f"sizes: expected integers, got dtype {s.dtype}")
    if np.any(s < 1):
        raise ValueError(f"sizes: expected every block size >= 1, got minimum {int(s.min())}")
    total = int(np.sum(s, dtype=object))  # exact, no integer overflow
    if n is not None and total != n:
        raise ValueError(f"sizes: the block sizes sum to {total}, not to the length {n} of {of}")
    check_memory(float(total) * _MAX_BLOCKS_BYTES_FACTOR, "sizes")
    return s.astype(np.intp)


def _starts(sizes: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(sizes)[:-1]))


def _scaled_blocks(v: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(v with each block divided by its max |entry|, those maxima (0 for a zero block), starts)."""
    starts = _starts(sizes)
    peak = np.maximum.reduceat(np.abs(v), starts)
    safe = np.where(peak > 0, peak, 1.0)
    return v / np.repeat(safe, sizes), peak, starts


def _norm(v: np.ndarray) -> float:
    """Overflow- and underflow-safe Euclidean norm: scale by the largest entry first."""
    peak = float(np.max(np.abs(v)))
    if peak == 0:
        return 0.0
    w = v / peak
    return peak * float(np.sqrt(np.dot(w, w)))


def _no_zero_block(peak: np.ndarray, sizes: np.ndarray, name: str) -> None:
    if np.any(peak == 0):
        i = int(np.flatnonzero(peak == 0)[0])
        lo = int(sizes[:i].sum())
        raise ValueError(
            f"{name}: block {i} (entries {lo}:{lo + int(sizes[i])}) is zero, so its local cosine "
            "is undefined"
        )


def _unit_interval(c: Any) -> Any:
    return np.clip(c, -1.0, 1.0)  # rounding only: |c| <= 1 by Cauchy-Schwarz


def _cos_scaled(xs: np.ndarray, ys: np.ndarray) -> float:
    """cos of two non-zero vectors already scaled to max |entry| = 1 (np.dot: BLAS, fast)."""
    den = np.sqrt(np.dot(xs, xs)) * np.sqrt(np.dot(ys, ys))
    return float(_unit_interval(np.dot(xs, ys) / den))


# --- cosines of whole vectors and of blocks ----------------------------------------------------


def cosine(x: Any, y: Any) -> float:
    """cos(x, y) = <x, y> / (|x| |y|) of two non-zero vectors of equal length (eq. 4 of notebook
    05 with one block).

    Raises:
        TypeError: ``x`` or ``y`` is not real numbers. ValueError: not 1-D, empty, NaN/inf,
        unequal lengths, or a zero vector.
    """
    xv, yv = _pair(x, y)
    px, py = np.max(np.abs(xv)), np.max(np.abs(yv))
    if px == 0:
        raise ValueError("x: the zero vector has no direction, so the cosine is undefined")
    if py == 0:
        raise ValueError("y: the zero vector has no direction, so the cosine is undefined")
    return _cos_scaled(xv / px, yv / py)


def block_norms(x: Any, sizes: Sequence[int]) -> np.ndarray:
    """The block-norm profile a = (|x_1|, ..., |x_k|) of ``x`` cut into blocks of ``sizes``
    (the vector a of section 3.1 of notebook 05).

    Raises:
        TypeError / ValueError: ``x`` not a finite real 1-D vector; ``sizes`` not positive
        integers summing to ``len(x)``.
    """
    xv = _vector(x, "x")
    s = _sizes(sizes, xv.size)
    xs, peak, starts = _scaled_blocks(xv, s)
    return peak * np.sqrt(np.add.reduceat(xs * xs, starts))


def block_cosines(x: Any, y: Any, sizes: Sequence[int]) -> np.ndarray:
    """The local cosines c_i = cos(x_i, y_i) of consecutive blocks of the given ``sizes``
    (eq. 4 of notebook 05).

    Raises:
        ValueError: a block of ``x`` or ``y`` is zero (it has no local cosine), or the checks of
        :func:`block_norms` fail for ``x``, ``y`` or ``sizes``. TypeError: not real numbers.
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
    return _cos_scaled(a / a.max(), b / b.max())


def dilution_factor(x: Any, y: Any, sizes: Sequence[int]) -> float:
    """D = cos(a, b) between the block-norm profiles a_i = |x_i| and b_i = |y_i|: the factor in
    cos(x, y) = D * sum_i p_i c_i (section 3.1 of notebook 05). It lies in [0, 1]; 1 iff the
    profiles are parallel. Zero blocks are allowed here (they simply have norm 0).

    Raises:
        ValueError: ``x`` or ``y`` is the zero vector, or the checks of :func:`block_norms` fail.
        TypeError: not real numbers.
    """
    xv, yv = _pair(x, y)
    s = _sizes(sizes, xv.size)
    return _profile_cosine(block_norms(xv, s), block_norms(yv, s), "x", "y")


def block_weights(x: Any, y: Any, sizes: Sequence[int]) -> np.ndarray:
    """The weights w_i = |x_i| |y_i| / (|x| |y|) of eq. (4): cos(x, y) = sum_i w_i c_i
    (section 3.1 of notebook 05). They are not a probability vector:
    sum_i w_i = dilution_factor(x, y, sizes) <= 1.

    Raises:
        ValueError: ``x`` or ``y`` is the zero vector, or the checks of :func:`block_norms` fail.
        TypeError: not real numbers.
    """
    xv, yv = _pair(x, y)
    s = _sizes(sizes, xv.size)
    a, b = block_norms(xv, s), block_norms(yv, s)
    if a.max() == 0 or b.max() == 0:
        raise ValueError(f"{'x' if a.max() == 0 else 'y'}: the zero vector has no direction")
    ah, bh = a / a.max(), b / b.max()
    return ah * bh / (np.sqrt(np.dot(ah, ah)) * np.sqrt(np.dot(bh, bh)))


class CosineSplit(NamedTuple):
    """cos = dilution * mean_local, with mean_local = sum(weights * local) and sum(weights) = 1
    (the boxed factorisation of section 3.1 of notebook 05). A result type of :func:`decompose`."""

    cos: float  # the global cosine cos(x, y)
    local: np.ndarray  # c_i
    weights: np.ndarray  # p_i = a_i b_i / sum_j a_j b_j, a probability vector
    mean_local: float  # sum_i p_i c_i
    dilution: float  # cos(a, b)


def decompose(x: Any, y: Any, sizes: Sequence[int]) -> CosineSplit:
    """The global cosine and its factorisation cos = D * (weighted mean local cosine), the boxed
    identity of section 3.1 of notebook 05.

    Raises:
        ValueError / TypeError: as :func:`block_cosines` (every block of both vectors non-zero).
    """
    xv, yv = _pair(x, y)
    s = _sizes(sizes, xv.size)
    local = block_cosines(xv, yv, s)
    w = block_weights(xv, yv, s)
    p = w / w.sum()
    return CosineSplit(cosine(xv, yv), local, p, float(np.dot(p, local)),
                       dilution_factor(xv, yv, s))


def global_cosine(local: Any, x_norms: Any, y_norms: Any) -> np.ndarray:
    """The global cosine from block data alone, eq. (4) of notebook 05:
    sum_i a_i b_i c_i / (|a| |b|).

    Broadcasts over leading axes; the blocks run along the last axis. Useful for sweeping the
    norm profiles at fixed local cosines without building any vectors.

    Raises:
        ValueError: ``local`` outside [-1, 1], negative or all-zero norms, NaN/inf, no block axis,
        shapes that do not broadcast, or a result beyond the memory budget. TypeError: not real.
    """
    c = real_array(local, "local", min_ndim=1, low=-1.0, high=1.0)
    a = real_array(x_norms, "x_norms", min_ndim=1, low=0.0)
    b = real_array(y_norms, "y_norms", min_ndim=1, low=0.0)
    try:
        shape = np.broadcast_shapes(c.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"local, x_norms, y_norms: shapes {c.shape}, {a.shape}, {b.shape} do not broadcast"
        ) from None
    check_memory(float(np.prod(shape, dtype=float)) * 8 * 4, "local")
    for arr, name in ((a, "x_norms"), (b, "y_norms")):
        if arr.size == 0 or np.any(arr.max(axis=-1) == 0):
            raise ValueError(f"{name}: a profile is empty or all zero, so the global cosine is "
                             "undefined")
    if c.size == 0:
        raise ValueError(f"local: expected at least one block, got shape {c.shape}")
    ah = a / a.max(axis=-1, keepdims=True)
    bh = b / b.max(axis=-1, keepdims=True)
    num = (ah * bh * c).sum(axis=-1)
    den = np.sqrt((ah * ah).sum(axis=-1)) * np.sqrt((bh * bh).sum(axis=-1))
    return np.broadcast_to(_unit_interval(num / den), shape[:-1]).copy()


def clip_threshold(local: Any, weights: Any, dilution: float) -> float:
    """The threshold lambda* of Su's truncation (sections 5.4 and 6.6 of notebook 05): clipping
    every local cosine up to ``lam`` at fixed norms leaves the global cosine at
    f(lam) = D * sum_i p_i max(c_i, lam), and lambda* is the least root of f(lam) = lam.

    For every lam > lambda* the clipped global cosine is below lam when D < 1 (equal to it when
    D = 1). f is piecewise linear with slope D * sum_{c_i < lam} p_i <= D, so the root is found
    exactly, segment by segment (no iterative solver). When the unclipped global cosine is at or
    below every local cosine, lambda* is that global cosine (no block needs clipping at it).

    ``local``: the c_i in [-1, 1]; ``weights``: the p_i (>= 0, normalised here to sum 1);
    ``dilution``: D in (0, 1], e.g. the fields of a :class:`CosineSplit`.

    Raises:
        ValueError: ``local`` outside [-1, 1], negative or all-zero ``weights``, unequal lengths,
        ``dilution`` outside (0, 1], NaN/inf. TypeError: not real numbers.
    """
    c = _vector(local, "local")
    p = _vector(weights, "weights")
    if np.any(np.abs(c) > 1):
        raise ValueError("local: cosines must lie in [-1, 1]")
    if p.size != c.size:
        raise ValueError(f"weights: length {p.size} does not match the length {c.size} of local")
    if np.any(p < 0) or p.max() == 0:
        raise ValueError("weights: expected non-negative weights, not all zero")
    d = real_scalar(dilution, "dilution", low=0.0, high=1.0, low_open=True)
    p = p / p.sum()
    order = np.argsort(c)
    c, p = c[order], p[order]
    # breakpoints lam = -1, c_(1), ..., c_(k), 1; f(lam) - lam is linear between them
    lams = np.concatenate(([-1.0], c, [1.0]))
    excess = d * (np.maximum(c[None, :], lams[:, None]) @ p) - lams
    k = int(np.argmax(excess <= 0))  # excess(-1) = cos + 1 >= 0 and excess(1) = d - 1 <= 0
    if k == 0 or excess[k] == 0:
        return float(lams[k])
    lo, hi, f_lo, f_hi = lams[k - 1], lams[k], excess[k - 1], excess[k]
    return float(lo + f_lo * (hi - lo) / (f_lo - f_hi))


# --- a lower bound when the norm ratios are controlled -----------------------------------------


def cassels_bound(kappa: Any) -> np.ndarray | float:
    """2 sqrt(kappa) / (1 + kappa): the least cos(a, b) of two positive profiles whose ratios
    a_i / b_i lie within a factor kappa >= 1 of each other (Cassels / Polya-Szego; section 6.2 of
    notebook 05). Computed as 2 / (sqrt(kappa) + 1/sqrt(kappa)), finite for every kappa >= 1;
    kappa = inf gives 0.

    Raises:
        ValueError: ``kappa`` < 1 or NaN. TypeError: not real numbers.
    """
    k = real_array(kappa, "kappa", allow_inf=True, low=1.0)
    r = np.sqrt(k)
    out = 2.0 / (r + 1.0 / r)
    return float(out) if out.ndim == 0 else out


def ratio_spread(x: Any, y: Any, sizes: Sequence[int]) -> float:
    """kappa = max_i r_i / min_i r_i for the block-norm ratios r_i = |x_i| / |y_i| (>= 1), the
    spread of section 6.2 of notebook 05. Computed in log space; a spread beyond the float range
    is returned as ``inf`` (the Cassels bound is then 0).

    Raises:
        ValueError: a zero block (its ratio is undefined), or the checks of :func:`block_norms`.
        TypeError: not real numbers.
    """
    xv, yv = _pair(x, y)
    s = _sizes(sizes, xv.size)
    a, b = block_norms(xv, s), block_norms(yv, s)
    for arr, name in ((a, "x"), (b, "y")):
        if np.any(arr == 0):
            raise ValueError(f"{name}: block {int(np.flatnonzero(arr == 0)[0])} is zero, "
                             "so its norm ratio is undefined")
    logr = np.log(a) - np.log(b)
    with np.errstate(over="ignore"):
        return float(np.exp(logr.max() - logr.min()))


# --- constructions ---------------------------------------------------------------------------


def pair_with_local_cosines(
    local: Any, x_norms: Any, y_norms: Any, sizes: Sequence[int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random vectors x, y whose blocks have exactly the given norms and local cosines (the
    construction of section 2.2 of notebook 05).

    Block i gets a random unit vector e and a random unit f orthogonal to it;
    x_i = a_i e and y_i = b_i (c_i e + sqrt(1 - c_i^2) f). A block of size 1 only allows c = +-1.

    Raises:
        ValueError: cosines outside [-1, 1], norms <= 0, unequal lengths, a size-1 block with
        |c| < 1, NaN/inf. TypeError: not real numbers, or ``rng`` not a numpy Generator.
    """
    c = _vector(local, "local")
    a = real_array(x_norms, "x_norms", ndim=1, allow_empty=False, low=0.0, low_open=True)
    b = real_array(y_norms, "y_norms", ndim=1, allow_empty=False, low=0.0, low_open=True)
    if not (c.size == a.size == b.size):
        raise ValueError(f"local, x_norms, y_norms: expected equal lengths, got {c.size}, "
                         f"{a.size}, {b.size}")
    if np.any(np.abs(c) > 1):
        raise ValueError("local: cosines must lie in [-1, 1]")
    s = _sizes(sizes, None)
    if s.size != c.size:
        raise ValueError(f"sizes: expected {c.size} blocks, got {s.size}")
    if np.any((s == 1) & (np.abs(c) < 1)):
        raise ValueError("local: a block of size 1 can only have local cosine +1 or -1")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    xs, ys = [], []
    for ci, ai, bi, di in zip(c, a, b, s):
        e = rng.standard_normal(di)
        e /= np.linalg.norm(e)
        if di > 1:
            f = rng.standard_normal(di)
            f -= np.dot(f, e) * e
            f /= np.linalg.norm(f)
        else:
            f = np.zeros(1)
        xs.append(ai * e)
        ys.append(bi * (ci * e + np.sqrt(max(0.0, 1 - ci * ci)) * f))
    return np.concatenate(xs), np.concatenate(ys)


def rotate_to_cosine(u: Any, g: Any, lam: float) -> np.ndarray:
    """u rotated in the plane span{u, g} so that cos(u', g) = lam exactly, keeping |u'| = |u|:
    u' = |u| (lam g/|g| + sqrt(1 - lam^2) e), e the unit part of u orthogonal to g (the rotation
    of section 5.4 of notebook 05). Norms are taken on rescaled copies, so entries near the float
    limits give finite results.

    If u is parallel to g there is no such plane; then e is the unit vector orthogonal to g
    nearest to the coordinate axis least aligned with g (needs len(u) >= 2 unless |lam| = 1).

    Raises:
        ValueError: ``lam`` outside [-1, 1], a zero ``u`` or ``g``, unequal lengths, NaN/inf, or
        a 1-D ``u`` with |lam| < 1. TypeError: not real numbers.
    """
    uv, gv = _pair(u, g, "u", "g")
    lam = real_scalar(lam, "lam")
    if abs(lam) > 1:
        raise ValueError(f"lam: expected a cosine in [-1, 1], got {lam!r}")
    nu, ng = _norm(uv), _norm(gv)
    if nu == 0 or ng == 0:
        raise ValueError(f"{'u' if nu == 0 else 'g'}: the zero vector has no direction")
    gh = (gv / np.max(np.abs(gv)))
    gh /= np.sqrt(np.dot(gh, gh))
    uh = uv / np.max(np.abs(uv))
    uh /= np.sqrt(np.dot(uh, uh))
    perp = uh - np.dot(uh, gh) * gh
    if np.sqrt(np.dot(perp, perp)) < 1e-12:
        if uv.size == 1:
            if abs(lam) < 1:
                raise ValueError("u: a 1-D vector can only have cosine +1 or -1 with g")
            return lam * nu * gh
        axis = np.zeros_like(gh)
        axis[np.argmin(np.abs(gh))] = 1.0
        perp = axis - np.dot(axis, gh) * gh
    perp /= np.sqrt(np.dot(perp, perp))
    return nu * (lam * gh + np.sqrt(1 - lam * lam) * perp)


def clip_local_cosines(u: Any, g: Any, sizes: Sequence[int], lam: float) -> np.ndarray:
    """u with every block whose local cosine with g is below ``lam`` rotated (norm kept) to have
    local cosine exactly ``lam``; the other blocks are returned unchanged (Su's truncation, as
    reconstructed in section 5.4 of notebook 05).

    Raises:
        ValueError: ``lam`` outside [-1, 1], a zero block, or the checks of :func:`block_cosines`.
        TypeError: not real numbers.
    """
    uv, gv = _pair(u, g, "u", "g")
    s = _sizes(sizes, uv.size, "u")
    lam = real_scalar(lam, "lam")
    if abs(lam) > 1:
        raise ValueError(f"lam: expected a cosine in [-1, 1], got {lam!r}")
    xs, pu, starts = _scaled_blocks(uv, s)
    _no_zero_block(pu, s, "u")
    local = block_cosines(uv, gv, s)
    out = uv.copy()
    bounds = np.concatenate(([0], np.cumsum(s)))
    for i in np.flatnonzero(local < lam):
        sl = slice(bounds[i], bounds[i + 1])
        out[sl] = rotate_to_cosine(uv[sl], gv[sl], lam)
    return out


# --- correlation: Pearson's r and Simpson's paradox ---------------------------------------------


def pearson(x: Any, y: Any) -> float:
    """Pearson's r = cos(x - mean(x), y - mean(y)), eqs. (7)-(8) of the post and section 4.1 of
    notebook 05 (scale-free, so x and y are rescaled before centring: no overflow).

    Raises:
        ValueError: constant data (zero variance), unequal lengths, NaN/inf. TypeError: not real.
    """
    xv, yv = _pair(x, y)
    xc, yc = _centred(xv), _centred(yv)
    if not np.any(xc):
        raise ValueError("x: constant data have no correlation (zero variance)")
    if not np.any(yc):
        raise ValueError("y: constant data have no correlation (zero variance)")
    return cosine(xc, yc)


def _centred(v: np.ndarray) -> np.ndarray:
    peak = np.max(np.abs(v))
    w = v / peak if peak > 0 else v
    return w - w.mean()


class CovarianceSplit(NamedTuple):
    """within + between = sum_n (x_n - mean x)(y_n - mean y), the pooled co-variation
    (section 4.3 of notebook 05). A result type of :func:`within_between`."""

    within: float  # sum_g sum_{n in g} (x_n - mean_g x)(y_n - mean_g y)
    between: float  # sum_g n_g (mean_g x - mean x)(mean_g y - mean y)


def within_between(x: Any, y: Any, sizes: Sequence[int]) -> CovarianceSplit:
    """Split the pooled sum of centred products into within- and between-group parts (law of
    total covariance, section 4.3 of notebook 05); the groups are the consecutive blocks of
    ``sizes``.

    Raises:
        ValueError / TypeError: ``x``, ``y`` not finite real 1-D vectors of equal length, or
        ``sizes`` not positive integers summing to their length.
    """
    xv, yv = _pair(x, y)
    s = _sizes(sizes, xv.size)
    starts = _starts(s)
    mx = np.add.reduceat(xv, starts) / s
    my = np.add.reduceat(yv, starts) / s
    within = float(np.dot(xv - np.repeat(mx, s), yv - np.repeat(my, s)))
    between = float(np.dot(s * (mx - xv.mean()), my - yv.mean()))
    return CovarianceSplit(within, between)


class CorrelationSplit(NamedTuple):
    """r_pooled = w_within * r_within + w_between * r_between exactly (section 6.5 of notebook
    05), with w_within = sqrt(W_xx W_yy / (T_xx T_yy)) and w_between = sqrt(B_xx B_yy /
    (T_xx T_yy)). w_within + w_between <= 1 is the dilution factor of the within/between split.
    A result type of :func:`correlation_split`."""

    r_pooled: float  # Pearson's r of all the data
    r_within: float  # W_xy / sqrt(W_xx W_yy): the pooled within-group correlation
    r_between: float  # B_xy / sqrt(B_xx B_yy): the n_g-weighted correlation of the group means
    w_within: float  # sqrt(W_xx W_yy / (T_xx T_yy))
    w_between: float  # sqrt(B_xx B_yy / (T_xx T_yy))


def correlation_split(x: Any, y: Any, sizes: Sequence[int]) -> CorrelationSplit:
    """The exact correlation counterpart of the dilution factorisation (section 6.5 of notebook
    05): with W, B, T the within-group, between-group and total sums of squares and products,
    T = W + B entrywise and

        r_pooled = sqrt(W_xx W_yy / T_xx T_yy) r_within + sqrt(B_xx B_yy / T_xx T_yy) r_between,

    where r_within = W_xy / sqrt(W_xx W_yy) is the correlation of the group-centred data (pooled
    over groups, not an average of the groups' r) and r_between = B_xy / sqrt(B_xx B_yy) that of
    the group means, each mean repeated n_g times. It is eq. (4) of the post for the two
    orthogonal components x - mean = (x - mean_g) + (mean_g - mean). Groups are the consecutive
    blocks of ``sizes``. Data are rescaled before any sum, so huge entries do not overflow.

    Raises:
        ValueError: no variation within groups (W_xx or W_yy = 0: r_within undefined) or between
        them (B_xx or B_yy = 0, e.g. a single group: r_between undefined), plus the checks of
        :func:`within_between`. TypeError: not real numbers.
    """
    xv, yv = _pair(x, y)
    s = _sizes(sizes, xv.size)
    starts = _starts(s)
    parts = []
    for v, name in ((xv, "x"), (yv, "y")):
        w = _centred(v)  # rescaled and centred at the global mean
        means = np.add.reduceat(w, starts) / s
        between = np.repeat(means, s)  # mean_g - mean, repeated over the group
        within = w - between  # x_n - mean_g
        nw, nb, nt = _norm(within), _norm(between), _norm(w)
        if nw <= 1e-13 * nt:  # zero up to the round-off of the centring
            raise ValueError(f"{name}: no variation within any group, so r_within is undefined")
        if nb <= 1e-13 * nt:
            raise ValueError(f"{name}: all group means are equal (or sizes has one group), so "
                             "r_between is undefined")
        parts.append((within, between, nw, nb, nt))
    (wx, bx, nwx, nbx, ntx), (wy, by, nwy, nby, nty) = parts
    r_w = float(_unit_interval(np.dot(wx / nwx, wy / nwy)))
    r_b = float(_unit_interval(np.dot(bx / nbx, by / nby)))
    return CorrelationSplit(pearson(xv, yv), r_w, r_b, (nwx / ntx) * (nwy / nty),
                            (nbx / ntx) * (nby / nty))


# --- plumbing --------------------------------------------------------------------------------


def concat(blocks: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Flatten a sequence of arrays or tensors (e.g. one per parameter tensor) into one float64
    vector and the block sizes that cut it back: ``x, sizes = concat(tensors)`` (section 5 of
    notebook 05). Tensors are detached and copied (any dtype, any ``requires_grad``).

    Raises:
        TypeError: ``blocks`` is not a non-empty sequence of real arrays. ValueError: an empty
        block, NaN/inf, or more than the memory budget.
    """
    if isinstance(blocks, (str, bytes)) or not isinstance(blocks, Sequence) or not blocks:
        raise TypeError("blocks: expected a non-empty sequence of arrays or tensors")
    total = 0
    for i, b in enumerate(blocks):
        shape = getattr(b, "shape", None)
        if shape is not None:
            total += int(np.prod(shape, dtype=float))
    check_memory(float(total) * 8 * 2, "blocks")
    flat = [real_array(b, f"blocks[{i}]").ravel() for i, b in enumerate(blocks)]
    for i, f in enumerate(flat):
        if f.size == 0:
            raise ValueError(f"blocks[{i}]: is empty")
    return np.concatenate(flat), np.array([f.size for f in flat], dtype=np.intp)
