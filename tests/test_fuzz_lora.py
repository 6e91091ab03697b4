"""Bad-input fuzzing of helpers/lora.py (notebook 07) with tests/fuzzing.py: every public
function and class gets one valid, tiny call, then every argument is replaced in turn by each of
the harness's bad values; each call must raise ValueError/TypeError naming the argument or return
a finite result, within the time and memory limits, without mutating its inputs."""

import numpy as np
import torch
from torch import nn

from helpers import lora as L
from tests.fuzzing import Call, fuzz

torch.set_num_threads(1)  # forked children must not inherit a busy thread pool
TASK = L.Task(n=6, k=2, steps=2)
PROB = L.draw_problem(TASK, np.random.default_rng(0))
RES = L.sweep(TASK, [-5.0, -4.0], [0.0, 1.0], np.random.default_rng(0))
torch.manual_seed(0)
LAYER = L.LoRALinear(4, 3, 2)
X4 = torch.ones(2, 4)
T = lambda *s: torch.ones(*s, dtype=torch.float64)  # noqa: E731


def _save(path, arrays):
    return L.save_npz_deterministic(path, arrays)


CALLS = {
    # device/dtype: None is valid (the defaults); every other bad value must be named
    "LoRALinear": Call(L.LoRALinear, 4, 3, 2, alpha=4.0),
    "LoRALinear.from_linear": Call(lambda linear, rank: L.LoRALinear.from_linear(linear, rank),
                                   nn.Linear(4, 3), 2),
    "LoRALinear.forward": Call(lambda x: LAYER(x), X4),
    "LoRALinear.delta_weight": Call(lambda: LAYER.delta_weight()),
    "LoRALinear.merged_weight": Call(lambda: LAYER.merged_weight()),
    "LoRALinear.reset_lora_parameters": Call(lambda: LAYER.reset_lora_parameters()),
    "loraplus_param_groups": Call(L.loraplus_param_groups, LAYER, 1e-3, 16.0),
    "post_factors": Call(L.post_factors, LAYER),
    "lora_grads": Call(L.lora_grads, T(3, 4), T(4, 2), T(2, 5), T(3, 5)),
    "Task": Call(L.Task, 6, k=2, steps=2),
    # rng: every bad value must give the TypeError naming rng (none is a Generator)
    "Problem": Call(L.Problem, TASK, PROB.Q, PROB.A_star, PROB.B_star, PROB.A0, PROB.B0,
                    np.random.default_rng(0)),
    "Problem.inputs": Call(lambda size: PROB.inputs(size), 3),
    "Problem.sigma_root": Call(lambda: PROB.sigma_root()),
    "SweepResult": Call(L.SweepResult, TASK, RES.log2_lr_a, RES.log2_ratio, RES.auc, RES.final,
                        RES.rms_A, RES.rms_B, RES.dloss_A, RES.dloss_B, allow_inf=True),
    "draw_problem": Call(L.draw_problem, TASK, np.random.default_rng(0)),
    "sweep": Call(L.sweep, TASK, [-5.0], [0.0, 1.0], np.random.default_rng(0), allow_inf=True),
    "train_reference": Call(L.train_reference, TASK, -5.0, 1.0, np.random.default_rng(0),
                            allow_inf=True),
    "best_log_ratio": Call(L.best_log_ratio, np.arange(5.0), np.array([3.0, 2.0, 1.0, 2.0, 3.0])),
    "loglog_slope": Call(L.loglog_slope, np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.5, 2.0])),
    # path: a string other than "*.npz" is refused before anything is written
    "save_npz_deterministic": Call(_save, "/tmp/test_fuzz_lora.npz", {"a": np.arange(3.0)}),
    "sha256_file": Call(L.sha256_file, __file__),
    "recorded_sha256": Call(L.recorded_sha256, "data/README.md", "lora_sweep.npz"),
}

CONSTANTS = {"MAX_WIDTH", "MAX_STEPS"}


def test_calls_cover_all_public_names():
    covered = {name.split(".")[0] for name in CALLS}
    assert covered | CONSTANTS == set(L.__all__)


def test_fuzz_lora():
    total, defects = fuzz(CALLS)
    print(f"fuzzed {len(CALLS)} functions with {total} calls")
    assert total > 1000
    assert not defects, "\n".join(defects)
