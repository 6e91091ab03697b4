"""Training sweep for notebook 02 (section 7): does the post's scale train better than 1/sqrt(d)?

    python data/02_scale_training.py --write    # regenerate data/02_scale_training.npz
    python data/02_scale_training.py            # rerun everything and compare with the cache
    python data/02_scale_training.py --slice    # rerun the cheap slice only (a few seconds)

One attention head on synthetic retrieval (helpers.attention_scale.train_retrieval: keys and
values N(0, I), query = key + 0.5 noise, loss |o - v_t|^2 / 16, dim 32, batch 64, 300 steps,
held-out loss every 25 steps on 8 fixed contexts), trained with only the scale alpha varied:
alpha = 0.25 * 2^(k/2), k = 0..12 (0.25 .. 16), for n = 16, 64, 256 keys, seeds 0..4 (numpy
default_rng(seed): the same initialisation and data for every alpha, so comparisons across
alpha are paired), SGD (lr 0.5) and Adam (lr 1e-2). Float64 on the CPU, one torch thread.
The cache is not re-drawn by the seed sweep of the notebooks (it is fixed data).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from helpers import attention_scale as att  # noqa: E402

OUT = ROOT / "data" / "02_scale_training.npz"
SHA256 = "b0fe731ac0946e7462c1d7fa37ebf6193db13dcc2941e0d9333b34a16cb735bf"
NS = (16, 64, 256)
ALPHAS = 0.25 * 2.0 ** (np.arange(13) / 2)
SEEDS = tuple(range(5))
OPTIMIZERS = ("sgd", "adam")
STEPS, EVAL_EVERY = 300, 25
SLICE = dict(optimizers=OPTIMIZERS, ns=(16,), seeds=(0,), alphas=(1.0, 4.0))  # the cheap rerun
RTOL = 1e-6  # float64 reruns of the same code agree far closer; kernels differ at ~1e-12
# SGD at alpha >= 5.7 is chaotic (saturated softmax): under another CPU kernel path (e.g.
# ATEN_CPU_CAPABILITY=default) those runs change by up to tens of per cent. The full rerun compares
# the reproducible entries (alpha <= 4, and every initial gradient) and only reports the others.
REPRODUCIBLE = ALPHAS <= 4.0 + 1e-9


def save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz that np.load reads, byte-for-byte reproducible (fixed zip timestamps, sorted keys)."""
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def run_one(opt: str, n: int, seed: int, alpha: float) -> att.RetrievalRun:
    return att.train_retrieval(float(alpha), n, seed, optimizer=opt, steps=STEPS, eval_every=EVAL_EVERY)


def run(verbose: bool = True) -> dict[str, np.ndarray]:
    shape = (len(OPTIMIZERS), len(NS), len(SEEDS), ALPHAS.size)
    evals = np.empty(shape + (STEPS // EVAL_EVERY,))
    grad0 = np.empty(shape)
    for i, opt in enumerate(OPTIMIZERS):
        for j, n in enumerate(NS):
            t0 = time.time()
            for k, seed in enumerate(SEEDS):
                for m, a in enumerate(ALPHAS):
                    r = run_one(opt, n, seed, a)
                    evals[i, j, k, m], grad0[i, j, k, m] = r.eval_loss, r.grad_norm0
            if verbose:
                print(f"  {opt} n={n}: {time.time() - t0:.0f} s", flush=True)
    return {"optimizers": np.array(OPTIMIZERS), "ns": np.array(NS), "seeds": np.array(SEEDS),
            "alphas": ALPHAS, "eval_steps": EVAL_EVERY * np.arange(1, STEPS // EVAL_EVERY + 1),
            "eval_loss": evals, "grad_norm0": grad0}


def _agree(new: np.ndarray, old: np.ndarray) -> bool:
    same_inf = np.array_equal(np.isinf(new), np.isinf(old))
    fin = np.isfinite(old)
    return same_inf and np.allclose(new[fin], old[fin], rtol=RTOL, atol=0.0)


def check_slice(cache) -> bool:
    """Rerun SLICE and compare with the cached entries (relative tolerance RTOL)."""
    opts, ns, seeds = list(cache["optimizers"]), list(cache["ns"]), list(cache["seeds"])
    alphas = list(cache["alphas"])
    ok = True
    for opt in SLICE["optimizers"]:
        for n in SLICE["ns"]:
            for seed in SLICE["seeds"]:
                for a in SLICE["alphas"]:
                    idx = (opts.index(opt), ns.index(n), seeds.index(seed),
                           int(np.argmin(np.abs(np.array(alphas) - a))))
                    r = run_one(opt, n, seed, alphas[idx[3]])
                    ok &= _agree(r.eval_loss, cache["eval_loss"][idx])
                    ok &= _agree(np.array([r.grad_norm0]), cache["grad_norm0"][idx][None])
    return bool(ok)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--write", action="store_true", help=f"overwrite {OUT.relative_to(ROOT)}")
    ap.add_argument("--slice", action="store_true", help="rerun only the cheap slice")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.slice:
        ok = check_slice(np.load(OUT))
        print("slice matches the cache" if ok else "slice DIFFERS from the cache")
        return 0 if ok else 1
    t0 = time.time()
    res = run()
    print(f"sweep: {time.time() - t0:.0f} s")
    if args.write:
        save(OUT, res)
        print(f"wrote {OUT.relative_to(ROOT)}  sha256 {hashlib.sha256(OUT.read_bytes()).hexdigest()}")
        return 0
    old = np.load(OUT)
    ok = _agree(res["eval_loss"][..., REPRODUCIBLE, :], old["eval_loss"][..., REPRODUCIBLE, :])
    ok &= _agree(res["grad_norm0"], old["grad_norm0"])
    rest_new, rest_old = res["eval_loss"][..., ~REPRODUCIBLE, :], old["eval_loss"][..., ~REPRODUCIBLE, :]
    fin = np.isfinite(rest_new) & np.isfinite(rest_old)
    dev = np.max(np.abs(rest_new[fin] / rest_old[fin] - 1)) if fin.any() else 0.0
    print(f"alpha > 4 (chaotic under SGD, not compared): max relative difference {dev:.2g}")
    print("matches the cache" if ok else "DIFFERS from the cache")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
