"""Bad-input fuzzing of helpers/attention_scale.py (notebook 02) with the shared harness tests/fuzzing.py.

One valid, tiny call per public function and class; every argument is then replaced by each bad
value of the harness, and each call must raise a ValueError/TypeError naming the argument or
return a finite result, within the time and memory limits, mutating nothing.
"""

import numpy as np
import torch

from helpers import attention_scale as A
from tests.fuzzing import Call, fuzz

# Names in __all__ that are not functions to fuzz: a result type (a frozen dataclass, built by
# train_retrieval and fuzzed through it).
NOT_CALLABLE = {"RetrievalRun"}

S = np.array([[0.3, -1.2, 2.0, 0.5], [1.0, 1.0, -0.4, 0.0]])

CALLS = {
    "scaled_softmax": Call(A.scaled_softmax, S, 1.5),
    "softmax_jacobian": Call(A.softmax_jacobian, S, 1.5),
    "collision_probability": Call(A.collision_probability, S, 1.5),
    "gradient_size": Call(A.gradient_size, S, 1.5),
    "softmax_entropy": Call(A.softmax_entropy, S, 1.5),
    "gradient_size_torch": Call(A.gradient_size_torch, torch.tensor(S), 1.5),
    # e^{alpha^2}/n overflows to inf for |alpha| > 26.6: the plug-in's own limit, allowed
    "plugin_collision_normal": Call(A.plugin_collision_normal, np.array([0.5, 2.0]), 512, allow_inf=True),
    "plugin_objective_normal": Call(A.plugin_objective_normal, np.array([0.5, 2.0]), 512, allow_inf=True),
    "alpha_star_normal": Call(A.alpha_star_normal, np.array([40.0, 512.0])),
    "log_mgf_cosine": Call(A.log_mgf_cosine, np.array([1.0, 30.0]), 128),
    "plugin_collision_cosine": Call(A.plugin_collision_cosine, np.array([1.0, 30.0]), 512, 128,
                                    allow_inf=True),
    "plugin_objective_cosine": Call(A.plugin_objective_cosine, np.array([1.0, 30.0]), 512, 128,
                                    allow_inf=True),
    "alpha_star_cosine": Call(A.alpha_star_cosine, 512, 64, xatol=1e-6),
    "mean_limit_normal": Call(A.mean_limit_normal, 16),
    "mean_gradient_size_normal": Call(A.mean_gradient_size_normal, np.array([0.5, 3.0]), 16),
    "sample_scores": Call(A.sample_scores, np.random.default_rng(0), (3, 4), "cosine", d=16),
    "monte_carlo": Call(A.monte_carlo, np.array([0.5, 2.0]), 8, 5, np.random.default_rng(0),
                        "normal", None, "gradient_size"),
    "plateau": Call(A.plateau, np.geomspace(0.5, 20, 9),
                    3 - (np.log(np.geomspace(0.5, 20, 9)) - np.log(3.0)) ** 2, 0.9),
    # a diverged run reports inf (documented), e.g. for lr = 1e300
    "train_retrieval": Call(A.train_retrieval, 2.0, 4, 0, optimizer="sgd", lr=0.5, steps=4, dim=4,
                            value_dim=2, batch=4, noise=0.5, eval_every=2, eval_contexts=1,
                            allow_inf=True),
}


def test_calls_cover_all_public_functions():
    assert set(CALLS) == set(A.__all__) - NOT_CALLABLE
    assert all(callable(getattr(A, name)) for name in A.__all__)


def test_fuzz_attention_scale():
    total, defects = fuzz(CALLS)
    print(f"fuzzed {len(CALLS)} functions with {total} calls")
    assert not defects, "\n".join(defects)
