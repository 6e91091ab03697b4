"""Reproducible notebook set-up: seeds (with a sweepable offset), thread pins, print and plot style.

Every seed a notebook uses goes through :func:`shifted_seed` (or :func:`rng`), so that the seed sweep
(``make seeds``) can re-run the whole notebook on other draws by setting ``SEED_OFFSET_VAR`` in the
environment; a check that then fails verified one draw, not the claim. The sweep compares no
outputs, so it also sets ``FIGURES_VAR`` to "off": figures are still built, but not drawn to PNG.
"""

from __future__ import annotations

import operator
import os
import random
import sys

import numpy as np

__all__ = ["SEED_OFFSET_VAR", "FIGURES_VAR", "PALETTE", "MARKERS", "LINESTYLES", "seed_offset",
           "shifted_seed", "rng", "setup", "house_style", "fmt", "below"]

SEED_OFFSET_VAR = "SCISPACES_SEED_OFFSET"
"""Name of the environment variable whose integer value is added to every seed (default 0)."""

FIGURES_VAR = "SCISPACES_FIGURES"
"""Name of the environment variable that, set to "off", keeps inline figures from being drawn."""

# Okabe & Ito (2008), the colour-blind-safe palette; yellow last (weak on white).
PALETTE = {
    "blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermillion": "#D55E00",
    "purple": "#CC79A7", "sky": "#56B4E9", "black": "#000000", "yellow": "#F0E442",
}
# Line styles and markers cycle with the colours, so no distinction rests on colour alone.
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1)), (0, (1, 1)), (0, (5, 2, 1, 2))]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def seed_offset() -> int:
    """The offset from ``$SCISPACES_SEED_OFFSET`` (0 when unset); ValueError if not an integer."""
    raw = os.environ.get(SEED_OFFSET_VAR, "0").strip() or "0"
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{SEED_OFFSET_VAR}: expected an integer, got {raw!r}") from None


def shifted_seed(k: int = 0) -> int:
    """The seed to use where a notebook means seed ``k``: ``k`` plus :func:`seed_offset`."""
    k = operator.index(k)
    if k < 0:
        raise ValueError(f"k: expected a seed >= 0, got {k}")
    return k + seed_offset()


def rng(k: int = 0) -> np.random.Generator:
    """``numpy.random.default_rng(shifted_seed(k))``: an independent generator for stream ``k``."""
    return np.random.default_rng(shifted_seed(k))


def house_style() -> None:
    """The collection's figure style: Okabe–Ito colours cycling with line styles, legible fonts.

    Sizes are for a 6.4 x 3.6 inch figure shown at its natural width (about 640 px on nbviewer,
    the book and the slides); inline PNGs are stored at 1.5 x that resolution.
    """
    import matplotlib as mpl
    from matplotlib import cycler

    mpl.rcParams.update(
        {
            "axes.prop_cycle": cycler(color=list(PALETTE.values()), linestyle=LINESTYLES),
            "image.cmap": "cividis",
            "figure.figsize": (6.4, 3.6),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "font.size": 10.5,
            "axes.titlesize": 11,
            "axes.labelsize": 10.5,
            "xtick.labelsize": 9.5,
            "ytick.labelsize": 9.5,
            "legend.fontsize": 9.5,
            "legend.framealpha": 0.9,
            "lines.linewidth": 1.8,
            "lines.markersize": 5.5,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.hashsalt": "scientific-spaces",
        }
    )
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing inline to configure
        return
    shell = get_ipython()
    if shell is not None:  # crisp on high-DPI screens: 1.5x the pixels at the same displayed size
        from matplotlib.figure import Figure

        shell.display_formatter.formatters["image/png"].for_type(Figure, _png_at_1_5x)


def _png_at_1_5x(fig) -> tuple[bytes, dict] | None:
    """Inline PNG of ``fig`` at 1.5 x its dpi, tagged with its 1 x display size."""
    import io

    if not fig.axes and not fig.lines and not fig.patches and not fig.images:
        return None  # an empty figure shows nothing, as with the stock formatter
    if os.environ.get(FIGURES_VAR) == "off":
        return None  # the seed sweep: built, not drawn (the output shows only its text form)
    buf = io.BytesIO()
    fig.canvas.print_figure(buf, format="png", dpi=1.5 * fig.dpi, bbox_inches="tight",
                            facecolor="white")
    data = buf.getvalue()
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return data, {"width": round(width / 1.5), "height": round(height / 1.5)}


def setup(seed: int = 0) -> np.random.Generator:
    """Seed every random source with ``shifted_seed(seed)``, pin torch to one thread, set the
    print and figure style (:func:`house_style`); return ``rng(seed)``.

    Call it after the imports: torch is seeded and pinned if the notebook has imported it (a
    notebook without torch does not pay the second it takes to import). Make data with the
    returned ``numpy.random.Generator`` (torch's own RNG differs across CPU code paths), and let
    torch's RNG drive only parameter initialisation.
    """
    s = shifted_seed(seed)
    random.seed(s)
    np.random.seed(s)  # for libraries that still use the legacy global state
    np.set_printoptions(precision=4, suppress=True)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(s)
        torch.set_num_threads(1)
        torch.set_printoptions(precision=4, sci_mode=False)
    house_style()
    return np.random.default_rng(s)


def fmt(x, sig: int = 4) -> str:
    """``x`` (a Python, numpy or torch scalar) rounded to ``sig`` significant digits."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().item()
    return f"{float(x):.{sig}g}"


def below(value, tol: float) -> str:
    """Assert ``value < tol`` and return ``"< tol"`` for printing.

    Print this, never the residual itself: a residual at round-off level differs between CPUs and
    BLAS kernels, the bound it is checked against does not. NaN fails.
    """
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    v = float(np.max(np.abs(np.asarray(value, dtype=float))))
    if not v < tol:
        raise AssertionError(f"{v!r} is not below {tol!r}")
    return f"< {tol:.0e}" if tol < 1e-2 or tol >= 1e4 else f"< {tol:g}"
