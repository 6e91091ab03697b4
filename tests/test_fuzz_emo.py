"""Bad-input fuzzing of helpers/emo.py (notebook 01) with tests/fuzzing.py: every public function
gets one valid call, then every argument is replaced in turn by each of the harness's bad values;
each call must raise ValueError/TypeError naming the argument or return a finite result, within
the time and memory limits, without mutating its inputs."""

import numpy as np
import torch

from helpers import emo
from tests.fuzzing import Call, fuzz

Z = torch.tensor([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]], dtype=torch.float64)
T = torch.tensor([2, -100])
E = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
P = np.array([0.2, 0.3, 0.5])
Q = np.array([0.6, 0.4])
COST = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
TASK = emo.SynonymTask.make(np.random.default_rng(0), K=3, S=2, d=2)

CALLS = {
    "emo_loss": Call(emo.emo_loss, Z, T, E),
    "emo_mix_loss": Call(emo.emo_mix_loss, Z, T, E),
    "emo_official": Call(emo.emo_official, Z, T, E),
    "transport_cost": Call(emo.transport_cost, P, np.array([0.5, 0.5]), COST),
    "cosine_cost": Call(emo.cosine_cost, np.array([[1.0, 0.0], [0.3, 0.4]])),
    "mix_optimum": Call(emo.mix_optimum, np.array([0.5, 0.5, 0.0]), np.array([0.5, 0.5, 0.3]), 2.0),
    # the class: its constructor, its factory and its methods (lambdas with the same names)
    "SynonymTask": Call(emo.SynonymTask, TASK.T, TASK.S, TASK.cost_emb),
    "SynonymTask.make": Call(emo.SynonymTask.make, np.random.default_rng(1), 3, 2, 0.5, 2, 0.3),
    "SynonymTask.sample": Call(lambda n, rng: TASK.sample(n, rng), 5, np.random.default_rng(2)),
    "SynonymTask.metrics": Call(lambda Q: TASK.metrics(Q), np.full((6, 6), 1 / 6)),
    "SynonymTask.fit_bigram": Call(lambda seq, loss, steps, seed: TASK.fit_bigram(seq, loss, steps, seed),
                                   np.array([0, 1, 2, 3, 4, 5, 0]), "EMO mix", 3, 0),
    "SynonymTask.matched_temperature": Call(lambda logits, precision: TASK.matched_temperature(
        logits, precision), np.eye(6), TASK.metrics(emo.tempered(np.eye(6), 0.5))["precision"]),
    "tempered": Call(emo.tempered, np.array([[0.0, 1.0], [2.0, -1.0]]), 0.5),
}


def test_calls_cover_all_public_names():
    assert {name.split(".")[0] for name in CALLS} == set(emo.__all__)


def test_fuzz_emo():
    total, defects = fuzz(CALLS)
    print(f"fuzzed {len(CALLS)} callables ({len(emo.__all__)} public names) with {total} calls")
    assert total > 800
    assert not defects, "\n".join(defects)
