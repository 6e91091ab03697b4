"""Notebook 01, Step 11: how many Adam steps pure EMO needs to collapse, over many Zipf draws,
and how close the EMO mix stays to P. Prints the numbers that the notebook's text quotes; no cache.

    python data/01_collapse_sweep.py   # 200 gaps, 6 closest ties at 3000 steps, 60 mix draws

Draw k uses numpy.random.default_rng(5000 + k): V = 50, embeddings N(0, I_8), P ∝ i^-1.1 shuffled,
a = C P. Adam, lr 0.1, on the exact expected loss, as in the notebook's ``fit_population``.
"""

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from helpers import emo  # noqa: E402

torch.set_num_threads(1)


def t64(x):
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


def draw(k):
    rng = np.random.default_rng(5000 + k)
    V = 50
    E = rng.standard_normal((V, 8))
    P = rng.permutation(np.arange(1, V + 1) ** -1.1)
    return E, P / P.sum()


def fit(P, E, per_token, steps, lr=0.1, record=()):
    V = len(P)
    Pt, Et, labels = t64(P), t64(E), torch.arange(V)
    zz = torch.zeros(V, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([zz], lr=lr)
    tops = []
    for k in range(steps):
        loss = (Pt * per_token(zz.expand(V, V), labels, Et)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if k + 1 in record:
            tops.append(torch.softmax(zz.detach(), -1).max().item())
    return torch.softmax(zz.detach(), -1).numpy(), tops


def pure(Z, y, E):
    return emo.emo_loss(Z, y, E, reduction="none")


def mix(Z, y, E):
    return emo.emo_mix_loss(Z, y, E, reduction="none")


def ce(Z, y, E):
    return F.cross_entropy(Z, y, reduction="none")


def main():
    gaps = []
    for k in range(200):
        E, P = draw(k)
        a = np.sort(emo.cosine_cost(E) @ P)
        gaps.append(a[1] - a[0])
    gaps = np.array(gaps)
    print("lead of the cheapest token over the next, quantiles 0/1/5/10/50%:",
          np.quantile(gaps, [0, 0.01, 0.05, 0.1, 0.5]))
    print("closest ties: max q after 500, 1000, 2000, 3000 steps")
    for k in np.argsort(gaps)[:6]:
        E, P = draw(k)
        _, tops = fit(P, E, pure, 3000, record=(500, 1000, 2000, 3000))
        print(f"  draw {k}: lead {gaps[k]:.1e}:", " ".join(f"{x:.4f}" for x in tops))
    kl, hdrop, cekl = [], [], []
    for k in range(60):
        E, P = draw(k)
        q, _ = fit(P, E, mix, 1000)
        qc, _ = fit(P, E, ce, 1000)
        kl.append(P @ np.log(P / q))
        hdrop.append(-(P * np.log(P)).sum() + (q * np.log(q)).sum())
        cekl.append(P @ np.log(P / qc))
    print(f"EMO mix, 60 draws: KL(P||q) {min(kl):.3g}..{max(kl):.3g}; H(P) - H(q) > 0 in "
          f"{sum(h > 0 for h in hdrop)} of 60 (min {min(hdrop):.3g}); CE KL max {max(cekl):.2g}")


if __name__ == "__main__":
    main()
