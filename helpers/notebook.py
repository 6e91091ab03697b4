"""Reproducible notebook set-up: seeds, thread pins, print and plot style."""

from __future__ import annotations

import random

import numpy as np

__all__ = ["setup", "fmt"]


def setup(seed: int = 0) -> np.random.Generator:
    """Seed every random source, pin torch to one thread, set print and figure style.

    Returns a fresh ``numpy.random.Generator``: make data with it (torch's own RNG differs
    across CPU code paths), and let torch's RNG drive only parameter initialisation.
    """
    random.seed(seed)
    np.random.seed(seed)  # for libraries that still use the legacy global state
    np.set_printoptions(precision=4, suppress=True)
    try:
        import torch
    except ImportError:  # a notebook without torch need not pay for it
        pass
    else:
        torch.manual_seed(seed)
        torch.set_num_threads(1)
        torch.set_printoptions(precision=4, sci_mode=False)
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.figsize": (6.0, 3.5),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "font.size": 10,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "svg.hashsalt": "scientific-spaces",
        }
    )
    return np.random.default_rng(seed)


def fmt(x, sig: int = 4) -> str:
    """``x`` (a Python, numpy or torch scalar) rounded to ``sig`` significant digits."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().item()
    return f"{float(x):.{sig}g}"
