"""The toy language model of notebook 01 (Steps 15-16) over six draws: CE against the EMO mix.

    python data/01_bigram_sweep.py --write      # regenerate data/01_bigram_sweep.npz
    python data/01_bigram_sweep.py              # rerun and compare with the cached file
    python data/01_bigram_sweep.py --draw 0 --n 2000   # one slice (a few seconds)

Draw k is the notebook run with its seed offset set to k (SCISPACES_SEED_OFFSET=k): the task
from numpy.random.default_rng(1 + k), the n training tokens from default_rng(2 + k) and the
initialisation from torch.manual_seed(k), for k in DRAWS. For each n in NS, bigram networks are
trained under CE and the EMO mix (``SynonymTask.fit_bigram``, 400 full-batch Adam steps, float32,
one torch thread), and under pure EMO at n = 5000; stored: the exact metrics (nll, concept_nll,
precision, entropy) of each model, of the true model, and of the CE model at the temperature
that matches the mix's precision, and the CE model's (precision, concept_nll) curve over TEMPS.
float32 training differs across CPU kernels in the 4th-6th digit, so the comparison allows a
relative difference of TOLERANCE.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from helpers import emo  # noqa: E402

OUT = ROOT / "data" / "01_bigram_sweep.npz"
DRAWS = tuple(range(6))
NS = (2000, 5000, 20000)
TEMPS = np.exp(np.linspace(np.log(0.25), np.log(1.6), 40))  # Figure 5's temperature range
METRICS = ("nll", "concept_nll", "precision", "entropy")
MODELS = ("true", "CE", "EMO mix", "pure EMO", "CE at T")
TOLERANCE = 1e-2


def one(draw: int, n: int) -> dict[str, np.ndarray]:
    """Metrics (len(MODELS), len(METRICS)), the matched temperature and the CE curve for one
    draw and one n; pure EMO is trained at n = 5000 only (NaN elsewhere)."""
    import torch

    torch.set_num_threads(1)
    task = emo.SynonymTask.make(np.random.default_rng(1 + draw))
    seq = task.sample(n, np.random.default_rng(2 + draw))
    logits = {name: task.fit_bigram(seq, name, seed=draw)
              for name in ("CE", "EMO mix") + (("pure EMO",) if n == 5000 else ())}
    rows = {"true": task.metrics(task.P)}
    rows.update({name: task.metrics(emo.tempered(lg)) for name, lg in logits.items()})
    T = task.matched_temperature(logits["CE"], rows["EMO mix"]["precision"])
    rows["CE at T"] = task.metrics(emo.tempered(logits["CE"], T))
    curve = [task.metrics(emo.tempered(logits["CE"], t)) for t in TEMPS]
    return {
        "metrics": np.array([[rows[m][k] if m in rows else np.nan for k in METRICS] for m in MODELS]),
        "T_match": np.array(T),
        "curve": np.array([[c["precision"], c["concept_nll"]] for c in curve]),
    }


def run(draws=DRAWS, ns=NS, verbose: bool = True) -> dict[str, np.ndarray]:
    parts = {}
    for k in draws:
        for n in ns:
            t = time.time()
            parts[k, n] = one(k, n)
            if verbose:
                gain = parts[k, n]["metrics"][4, 1] - parts[k, n]["metrics"][2, 1]
                print(f"  draw {k}, n = {n}: T match {float(parts[k, n]['T_match']):.2f}, "
                      f"recall gain of the mix {gain:+.2f} nats ({time.time() - t:.0f} s)", flush=True)
    stack = lambda key: np.array([[parts[k, n][key] for n in ns] for k in draws])  # noqa: E731
    return {"draws": np.array(draws), "ns": np.array(ns), "temps": TEMPS,
            "models": np.array(MODELS), "metric_names": np.array(METRICS),
            "metrics": stack("metrics"),   # (draw, n, model, metric)
            "T_match": stack("T_match"),   # (draw, n)
            "curve": stack("curve")}       # (draw, n, temperature, [precision, concept_nll])


def compare(cached: dict, fresh: dict) -> float:
    """Largest relative difference between a rerun and the cached entries it covers."""
    di = [list(cached["draws"]).index(k) for k in fresh["draws"]]
    ni = [list(cached["ns"]).index(n) for n in fresh["ns"]]
    worst = 0.0
    for key in ("metrics", "T_match", "curve"):
        a = np.asarray(cached[key])[np.ix_(di, ni)]
        b = np.asarray(fresh[key])
        ok = ~np.isnan(a)
        assert np.array_equal(ok, ~np.isnan(b)), key
        worst = max(worst, float(np.max(np.abs(a[ok] - b[ok]) / np.abs(a[ok]))))
    return worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="regenerate the cached file")
    ap.add_argument("--draw", type=int, nargs="*", default=list(DRAWS), help="draws to run")
    ap.add_argument("--n", type=int, nargs="*", default=list(NS), help="training-set sizes")
    args = ap.parse_args()
    fresh = run(tuple(args.draw), tuple(args.n))
    if args.write:
        if tuple(args.draw) != DRAWS or tuple(args.n) != NS:
            raise SystemExit("--write needs every draw and every n")
        np.savez_compressed(OUT, **fresh)
        print(f"wrote {OUT}")
        return 0
    with np.load(OUT) as f:
        cached = dict(f)
    worst = compare(cached, fresh)
    print(f"largest relative difference from the cache: {worst:.1e} (allowed {TOLERANCE})")
    return 0 if worst < TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
