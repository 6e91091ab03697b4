"""Attention numerics shared by notebooks 02 (the scale from gradient maximisation) and 03 (can
attention focus?)."""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------------------------------------
# Notebook 02: the attention scale (softmax gradient size, plug-in objective, Monte Carlo)
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Notebook 03: concentration (sparsity measure, closed forms for softmax / linear attention)
# ---------------------------------------------------------------------------------------------
