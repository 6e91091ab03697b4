"""Unit tests of helpers/lora.py: the LoRA layer, LoRA+ parameter groups, the vectorised sweep,
the cross-check against peft's LoRA+ optimizer, and a slice of each cached sweep rerun."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers import lora

ROOT = Path(__file__).resolve().parents[1]
FEW = settings(max_examples=25, deadline=None)


def seeded(seed=0):
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------
# LoRALinear
# ---------------------------------------------------------------------------------------------


def test_layer_starts_as_the_base_layer_and_only_factors_train():
    seeded()
    base = nn.Linear(7, 5)
    layer = lora.LoRALinear.from_linear(base, rank=3, alpha=6)
    x = torch.randn(4, 7)
    torch.testing.assert_close(layer(x), base(x))
    assert torch.count_nonzero(layer.lora_B) == 0 and torch.count_nonzero(layer.lora_A) > 0
    assert [n for n, _ in layer.named_parameters()] == ["lora_A", "lora_B"]
    assert {"weight", "bias", "lora_A", "lora_B"} <= set(layer.state_dict())
    assert layer.lora_A.shape == (3, 7) and layer.lora_B.shape == (5, 3)
    assert layer.scaling == 2.0


def test_zero_init_a_swaps_the_zero_factor():
    seeded()
    layer = lora.LoRALinear(6, 4, 2, zero_init="A", bias=False)
    assert torch.count_nonzero(layer.lora_A) == 0 and torch.count_nonzero(layer.lora_B) > 0
    assert layer.bias is None
    x = torch.randn(3, 6)
    torch.testing.assert_close(layer(x), x @ layer.weight.T)


def test_init_variances_follow_kaiming_uniform():
    seeded()
    layer = lora.LoRALinear(2000, 10, 50)
    # Kaiming-uniform with a = sqrt(5): U(-1/sqrt(fan_in), 1/sqrt(fan_in)), variance 1/(3 fan_in)
    assert float(layer.lora_A.detach().var()) == pytest.approx(1 / (3 * 2000), rel=0.02)
    assert float(layer.lora_A.detach().abs().max()) <= 1 / math.sqrt(2000)


@FEW
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 4), st.floats(0.25, 32),
       st.integers(0, 2**31 - 1))
def test_forward_equals_merged_weight_and_post_factors(n_in, n_out, rank, alpha, seed):
    torch.manual_seed(seed)
    layer = lora.LoRALinear(n_in, n_out, rank, alpha, dtype=torch.float64)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(3, n_in, dtype=torch.float64)
    y = layer(x)
    torch.testing.assert_close(y, x @ layer.merged_weight().T + layer.bias, rtol=1e-12, atol=1e-12)
    A, B = lora.post_factors(layer)  # the post's row-vector form: x W0^T + b + x A B
    assert A.shape == (n_in, rank) and B.shape == (rank, n_out)
    torch.testing.assert_close(y, x @ layer.weight.T + layer.bias + x @ A @ B,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs, err", [
    ({"rank": 0}, ValueError), ({"rank": -2}, ValueError), ({"rank": 1.5}, TypeError),
    ({"rank": True}, TypeError), ({"rank": 2, "alpha": 0.0}, ValueError),
    ({"rank": 2, "alpha": float("nan")}, ValueError), ({"rank": 2, "zero_init": "C"}, ValueError),
])
def test_layer_rejects_bad_arguments(kwargs, err):
    with pytest.raises(err, match="rank|alpha|zero_init"):
        lora.LoRALinear(4, 3, **kwargs)


def test_bad_sizes_and_wrapping_are_rejected():
    with pytest.raises(ValueError, match="in_features"):
        lora.LoRALinear(0, 3, 1)
    with pytest.raises(TypeError, match="nn.Linear"):
        lora.LoRALinear.from_linear(nn.Conv1d(2, 2, 1), 1)
    with pytest.raises(TypeError, match="LoRALinear"):
        lora.post_factors(nn.Linear(2, 2))


# ---------------------------------------------------------------------------------------------
# loraplus_param_groups
# ---------------------------------------------------------------------------------------------


class Net(nn.Module):
    """Two LoRA layers, a trainable LayerNorm and a trainable head: every kind of parameter."""

    def __init__(self):
        super().__init__()
        self.l1 = lora.LoRALinear(6, 8, 2)
        self.norm = nn.LayerNorm(8)
        self.l2 = lora.LoRALinear(8, 8, 2)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.l2(self.norm(self.l1(x))))


def group(groups, name):
    (g,) = [g for g in groups if g["name"] == name]
    return g


def test_ratio_lands_on_the_output_side_factor():
    seeded()
    net = Net()
    groups = lora.loraplus_param_groups(net, lr=1e-3, ratio=16, weight_decay=0.1)
    ids = lambda g: {id(p) for p in g["params"]}  # noqa: E731
    assert ids(group(groups, "lora_B")) == {id(net.l1.lora_B), id(net.l2.lora_B)}
    assert ids(group(groups, "lora_A")) == {id(net.l1.lora_A), id(net.l2.lora_A)}
    assert group(groups, "lora_B")["lr"] == pytest.approx(16e-3)
    assert group(groups, "lora_A")["lr"] == pytest.approx(1e-3)
    # the rest is NOT boosted: biases and norm gains keep the base rate, without decay
    assert ids(group(groups, "other")) == {id(net.head.weight)}
    assert ids(group(groups, "other_no_decay")) == {
        id(net.norm.weight), id(net.norm.bias), id(net.head.bias)}
    assert group(groups, "other")["lr"] == group(groups, "other_no_decay")["lr"] == 1e-3
    assert group(groups, "other_no_decay")["weight_decay"] == 0.0
    assert group(groups, "other")["weight_decay"] == 0.1
    every = [id(p) for g in groups for p in g["params"]]
    assert sorted(every) == sorted(id(p) for p in net.parameters())  # each exactly once


def test_other_lr_is_used_when_asked_and_empty_groups_are_dropped():
    layer = lora.LoRALinear(4, 4, 1)
    assert [g["name"] for g in lora.loraplus_param_groups(layer, 0.1, 4)] == ["lora_A", "lora_B"]
    groups = lora.loraplus_param_groups(Net(), 0.1, 4, other_lr=0.4)
    assert group(groups, "other_no_decay")["lr"] == 0.4


def test_first_adam_step_moves_b_ratio_times_further():
    seeded()
    layer = lora.LoRALinear(10, 6, 3, dtype=torch.float64)
    with torch.no_grad():
        layer.lora_B.normal_()  # so that dL/dA = X^T G B^T is not zero
    A0, B0 = layer.lora_A.detach().clone(), layer.lora_B.detach().clone()
    opt = torch.optim.Adam(lora.loraplus_param_groups(layer, lr=1e-3, ratio=8.0), eps=1e-12)
    layer(torch.randn(5, 10, dtype=torch.float64)).square().sum().backward()
    opt.step()  # Adam's first step is -lr * sign(g) (bias correction), here to 1e-9
    torch.testing.assert_close((layer.lora_A - A0).abs(), torch.full_like(A0, 1e-3), rtol=1e-6,
                               atol=0)
    torch.testing.assert_close((layer.lora_B - B0).abs(), torch.full_like(B0, 8e-3), rtol=1e-6,
                               atol=0)


@pytest.mark.parametrize("make", [
    lambda g: torch.optim.SGD(g, momentum=0.9, weight_decay=0.5),
    lambda g: torch.optim.AdamW(g, weight_decay=0.5),
    lambda g: torch.optim.Adam(g),
    lambda g: torch.optim.RMSprop(g, weight_decay=0.1),
    lambda g: torch.optim.Adagrad(g),
])
def test_frozen_weight_never_changes_with_any_optimizer(make):
    seeded()
    net = Net()
    net.requires_grad_(True)  # W0 and b0 are buffers: this cannot unfreeze them
    frozen = {k: v.clone() for k, v in net.state_dict().items() if not k.endswith(("lora_A",
                                                                                  "lora_B"))
              and k.startswith(("l1.", "l2."))}
    assert set(frozen) == {"l1.weight", "l1.bias", "l2.weight", "l2.bias"}
    B_before = net.l2.lora_B.detach().clone()
    opt = make(lora.loraplus_param_groups(net, lr=1e-2, ratio=4, weight_decay=0.01))
    x, y = torch.randn(16, 6), torch.randn(16, 3)
    for _ in range(5):
        opt.zero_grad()
        (net(x) - y).square().mean().backward()
        opt.step()
    for k, v in frozen.items():
        assert torch.equal(net.state_dict()[k], v), k
    assert not torch.equal(net.l2.lora_B, B_before)  # while the factors did train


def test_peft_style_names_are_recognised():
    class PeftLike(nn.Module):
        def __init__(self):
            super().__init__()
            self.base_layer = nn.Linear(4, 4)
            self.base_layer.requires_grad_(False)
            self.lora_A = nn.ModuleDict({"default": nn.Linear(4, 2, bias=False)})
            self.lora_B = nn.ModuleDict({"default": nn.Linear(2, 4, bias=False)})

    m = nn.Sequential(PeftLike())
    groups = lora.loraplus_param_groups(m, 1e-4, 10)
    assert group(groups, "lora_B")["params"] == [m[0].lora_B["default"].weight]
    assert group(groups, "lora_A")["params"] == [m[0].lora_A["default"].weight]
    assert len(groups) == 2


@pytest.mark.parametrize("lr, ratio", [(1e-3, 0.0), (1e-3, -2.0), (1e-3, float("nan")),
                                       (1e-3, float("inf")), (0.0, 4.0), (-1e-3, 4.0)])
def test_groups_reject_non_positive_rates(lr, ratio):
    with pytest.raises(ValueError, match="lr|ratio"):
        lora.loraplus_param_groups(Net(), lr, ratio)


def test_groups_reject_bad_models_and_options():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        lora.loraplus_param_groups([nn.Parameter(torch.zeros(2))], 1e-3, 4)
    with pytest.raises(ValueError, match="no trainable LoRA factors"):
        lora.loraplus_param_groups(nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3)), 1e-3, 4)
    frozen = lora.LoRALinear(3, 3, 1).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable LoRA factors"):
        lora.loraplus_param_groups(frozen, 1e-3, 4)
    with pytest.raises(ValueError, match="weight_decay"):
        lora.loraplus_param_groups(Net(), 1e-3, 4, weight_decay=-0.1)
    with pytest.raises(ValueError, match="other_lr"):
        lora.loraplus_param_groups(Net(), 1e-3, 4, other_lr=0.0)
    with pytest.raises(TypeError, match="ratio"):
        lora.loraplus_param_groups(Net(), 1e-3, "16")


# ---------------------------------------------------------------------------------------------
# the reduced model Y = X A B and the sweep
# ---------------------------------------------------------------------------------------------


@FEW
@given(st.integers(1, 6), st.integers(1, 7), st.integers(1, 3), st.integers(1, 7),
       st.integers(0, 2**31 - 1))
def test_lora_grads_match_autograd(b, n, r, m, seed):
    rng = np.random.default_rng(seed)
    X, A, B, T = (torch.from_numpy(rng.standard_normal(s)) for s in [(b, n), (n, r), (r, m),
                                                                       (b, m)])
    A.requires_grad_(True)
    B.requires_grad_(True)
    Y = X @ A @ B
    loss = 0.5 * (Y - T).square().sum()
    loss.backward()
    gA, gB = lora.lora_grads(X, A.detach(), B.detach(), (Y - T).detach())
    torch.testing.assert_close(gA, A.grad, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(gB, B.grad, rtol=1e-10, atol=1e-10)
    # batched over configurations
    A2, B2 = torch.stack([A.detach(), 2 * A.detach()]), torch.stack([B.detach(), -B.detach()])
    gA2, _ = lora.lora_grads(X, A2, B2, torch.stack([(Y - T).detach()] * 2))
    torch.testing.assert_close(gA2[0], gA, rtol=1e-10, atol=1e-10)


def test_lora_grads_rejects_shapes_that_do_not_chain():
    with pytest.raises(ValueError, match="do not chain"):
        lora.lora_grads(torch.zeros(2, 3), torch.zeros(4, 1), torch.zeros(1, 2), torch.zeros(2, 2))


@pytest.mark.parametrize("task, point", [
    (lora.Task(n=48, k=4, steps=20), (-7.0, 4.0)),
    (lora.Task(n=40, m=24, k=None, steps=20), (-5.0, -1.0)),
    (lora.Task(n=32, k=6, steps=20, zero_init="A"), (-8.0, 7.0)),
])
def test_sweep_matches_torch_adam_with_loraplus_groups(task, point):
    grid = lora.sweep(task, [-9, point[0]], [point[1], 0], np.random.default_rng(7))
    auc, final = lora.train_reference(task, *point, np.random.default_rng(7))
    assert grid.auc[1, 0] == pytest.approx(auc, rel=1e-4)
    assert grid.final[1, 0] == pytest.approx(final, rel=1e-3)


def test_sweep_metrics_are_relative_to_the_zero_map():
    task = lora.Task(n=32, k=4, steps=1)
    res = lora.sweep(task, [-8], [0], np.random.default_rng(1))
    assert res.auc[0, 0] == pytest.approx(1.0, rel=0.5)  # one batch of the zero map, noisy
    res0 = lora.sweep(lora.Task(n=32, k=4, steps=1), [-40], [0], np.random.default_rng(1))
    assert res0.final[0, 0] == pytest.approx(1.0, rel=1e-4)  # lr ~ 1e-12: still the zero map
    assert res.dloss_A[0, 0] == 0.0  # B0 = 0 so dL/dA = 0 at the first step
    assert res.dloss_B[0, 0] > 0
    assert res.auc.shape == res.final.shape == res.rms_A.shape == (1, 1)


def test_population_loss_matches_a_direct_computation():
    rng = np.random.default_rng(3)
    n, m, r, k, C = 20, 12, 3, 5, 4
    S, A, B, As, Bs = (rng.standard_normal(s) for s in [(k, n), (n, C, r), (C, r, m), (n, r),
                                                          (r, m)])
    t = torch.from_numpy
    got = lora._population_loss(t(S), t(A).reshape(n, C * r), C, t(B), t(As), t(Bs))
    want = [0.5 * np.sum((S @ (A[:, c] @ B[c] - As @ Bs)) ** 2) / m for c in range(C)]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)
    iso = lora._population_loss(None, t(A).reshape(n, C * r), C, t(B), t(As), t(Bs))
    np.testing.assert_allclose(iso.numpy(), [0.5 * np.sum((A[:, c] @ B[c] - As @ Bs) ** 2) / m
                                             for c in range(C)], rtol=1e-10)


def test_task_and_sweep_reject_bad_input():
    with pytest.raises(ValueError, match="n"):
        lora.Task(n=0)
    with pytest.raises(ValueError, match="zero_init"):
        lora.Task(n=4, zero_init="X")
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        lora.sweep(lora.Task(n=4), [-3], [0], 0)
    with pytest.raises(ValueError, match="non-empty"):
        lora.sweep(lora.Task(n=4), [], [0], np.random.default_rng(0))


# ---------------------------------------------------------------------------------------------
# reading a sweep
# ---------------------------------------------------------------------------------------------


@FEW
@given(st.floats(-2.0, 12.0), st.floats(0.05, 3.0))
def test_best_log_ratio_recovers_a_parabola_vertex(vertex, curvature):
    x = np.arange(-4.0, 15.0)
    y = 10.0 ** (curvature * (x - vertex) ** 2 / 10 - 1)
    assert lora.best_log_ratio(x, y) == pytest.approx(vertex, abs=1e-6)


def test_best_log_ratio_edges_and_errors():
    x = np.arange(6.0)
    assert lora.best_log_ratio(x, 10.0 ** x) == 0.0  # monotone: clipped to the window edge
    assert lora.best_log_ratio(x, np.ones(6)) == 0.0  # flat: the grid argmin
    with pytest.raises(ValueError, match="profile: expected values > 0"):
        lora.best_log_ratio(x, x)
    with pytest.raises(ValueError, match="evenly spaced"):
        lora.best_log_ratio(x[::-1], x + 1)
    with pytest.raises(ValueError, match="same length"):
        lora.best_log_ratio(x, x[:3] + 1)


@FEW
@given(st.floats(-3, 3), st.floats(0.1, 10))
def test_loglog_slope_of_a_power_law(p, c):
    x = np.array([1.0, 2.0, 5.0, 11.0])
    assert lora.loglog_slope(x, c * x**p) == pytest.approx(p, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# the cached sweep
# ---------------------------------------------------------------------------------------------


def test_npz_writer_is_byte_reproducible(tmp_path):
    arrays = {"b": np.arange(6.0).reshape(2, 3), "a": np.array(["k8", "iso"])}
    d1 = lora.save_npz_deterministic(tmp_path / "x.npz", arrays)
    d2 = lora.save_npz_deterministic(tmp_path / "y.npz", arrays)
    assert d1 == d2 == lora.sha256_file(tmp_path / "x.npz")
    with np.load(tmp_path / "x.npz") as f:
        np.testing.assert_array_equal(f["b"], arrays["b"])
        assert list(f["a"]) == ["k8", "iso"]


def test_recorded_sha256_reads_the_data_readme(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("| file | what | sha256 |\n|---|---|---|\n| `x.npz` | stuff | " + "ab" * 32
                      + " |\n", encoding="utf-8")
    assert lora.recorded_sha256(readme, "x.npz") == "ab" * 32
    with pytest.raises(ValueError, match="no row"):
        lora.recorded_sha256(readme, "y.npz")


def test_cached_sweep_matches_its_recorded_sha256():
    path = ROOT / "data" / "lora_sweep.npz"
    assert lora.sha256_file(path) == lora.recorded_sha256(ROOT / "data" / "README.md",
                                                          "lora_sweep.npz")


# ---------------------------------------------------------------------------------------------
# issue 15: bad options give errors, not silent results
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    ({"log2_lr_a": [float("nan")]}, "log2_lr_a"), ({"log2_ratio": [float("nan")]}, "log2_ratio"),
    ({"log2_ratio": [float("inf")]}, "log2_ratio"), ({"betas": (1.0, 0.999)}, "betas"),
    ({"betas": (0.9, -0.1)}, "betas"), ({"betas": (0.9,)}, "betas"), ({"eps": -1.0}, "eps"),
    ({"eps": 0.0}, "eps"), ({"dtype": torch.float16}, "dtype"), ({"device": "nowhere"}, "device"),
])
def test_sweep_rejects_bad_options(kwargs, match):
    args = {"log2_lr_a": [-5], "log2_ratio": [0]} | {k: v for k, v in kwargs.items()
                                                      if k.startswith("log2")}
    opts = {k: v for k, v in kwargs.items() if not k.startswith("log2")}
    with pytest.raises((ValueError, TypeError), match=match):
        lora.sweep(lora.Task(n=8, k=2, steps=2), args["log2_lr_a"], args["log2_ratio"],
                   np.random.default_rng(0), **opts)


def test_train_reference_rejects_bad_options():
    with pytest.raises(ValueError, match="betas"):
        lora.train_reference(lora.Task(n=8, steps=2), -5, 0, np.random.default_rng(0),
                             betas=(1.0, 0.999))
    with pytest.raises(ValueError, match="log2_lr_a"):
        lora.train_reference(lora.Task(n=8, steps=2), float("nan"), 0, np.random.default_rng(0))


def test_loglog_slope_rejects_non_positive_values_like_sgd():
    with pytest.raises(ValueError, match="y"):
        lora.loglog_slope([1, 10, 100], [1, -0.3, 0.1])
    with pytest.raises(ValueError, match="x"):
        lora.loglog_slope([2, 2, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="same length"):
        lora.loglog_slope([1, 2, 3], [1, 2])


def test_float32_final_loss_is_positive_and_readable():
    """The final population loss is a difference of Gram terms of the size of the base loss; in
    float32 it came out negative below ~1e-6 of it (21 of 72 entries here before the fix), which
    crashed best_log_ratio. It is now evaluated in float64."""
    la, lr = np.arange(-10, -1), np.arange(-4, 4)
    res = lora.sweep(lora.Task(n=64, k=None, steps=400), la, lr, np.random.default_rng(0))
    ref = lora.sweep(lora.Task(n=64, k=None, steps=400), la, lr, np.random.default_rng(0),
                     dtype=torch.float64)
    assert np.all(res.final > 0) and res.final.min() < 1e-9
    ok = (ref.final > 1e-3) & (ref.final < 0.5)  # float32 and float64 training agree closely here
    np.testing.assert_allclose(res.final[ok], ref.final[ok], rtol=0.05)
    lora.best_log_ratio(lr, res.final.min(0))  # no longer raises


def test_task_problem_and_result_validate_their_fields():
    with pytest.raises(ValueError, match="steps"):
        lora.Task(n=4, steps=10**12)
    with pytest.raises(TypeError, match="k"):
        lora.Task(n=4, k=2.5)
    prob = lora.draw_problem(lora.Task(n=6, k=2), np.random.default_rng(0))
    with pytest.raises(ValueError, match="A_star"):
        lora.Problem(prob.task, prob.Q, prob.A_star[:3], prob.B_star, prob.A0, prob.B0, prob.rng)
    with pytest.raises(ValueError, match="size"):
        prob.inputs(-1)
    res = lora.sweep(lora.Task(n=6, k=2, steps=2), [-5, -4], [0], np.random.default_rng(0))
    with pytest.raises(ValueError, match="auc"):
        lora.SweepResult(res.task, res.log2_lr_a, res.log2_ratio, res.auc * np.nan, res.final,
                         res.rms_A, res.rms_B, res.dloss_A, res.dloss_B)


def test_cache_helpers_reject_bad_paths(tmp_path):
    with pytest.raises(ValueError, match="path"):
        lora.sha256_file(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="path"):
        lora.save_npz_deterministic(tmp_path / "x.txt", {"a": np.zeros(2)})
    with pytest.raises(TypeError, match="arrays"):
        lora.save_npz_deterministic(tmp_path / "x.npz", {"a": np.array([object()])})
    with pytest.raises(TypeError, match="readme"):
        lora.recorded_sha256(None, "x.npz")


# ---------------------------------------------------------------------------------------------
# issue 14: weight decay, embeddings, alpha / r
# ---------------------------------------------------------------------------------------------


def test_weight_decay_defaults_to_the_optimizers():
    """AdamW(groups, weight_decay=0.5) used to train every group with weight_decay 0 silently."""
    net = Net()
    opt = torch.optim.AdamW(lora.loraplus_param_groups(net, 1e-2, 4), weight_decay=0.5)
    wd = {g["name"]: g["weight_decay"] for g in opt.param_groups}
    assert wd == {"lora_A": 0.5, "lora_B": 0.5, "other": 0.5, "other_no_decay": 0.0}
    opt = torch.optim.AdamW(lora.loraplus_param_groups(net, 1e-2, 4, weight_decay=0.1),
                            weight_decay=0.5)
    assert {g["name"]: g["weight_decay"] for g in opt.param_groups}["lora_B"] == 0.1


def test_alpha_over_rank_multiplies_the_effective_ratio_under_adam():
    """(alpha = 2r, ratio 16) trains the post's factors exactly like (alpha = r, ratio 32), up to
    Adam's eps (here 1e-30), since Adam ignores the scale of the gradient."""
    torch.manual_seed(3)
    x = torch.randn(64, 12, dtype=torch.float64)
    target = torch.randn(64, 7, dtype=torch.float64)

    def train(alpha, ratio, eps):
        torch.manual_seed(5)
        layer = lora.LoRALinear(12, 7, 2, alpha, bias=False, dtype=torch.float64)
        opt = torch.optim.Adam(lora.loraplus_param_groups(layer, 1e-2, ratio), eps=eps)
        for _ in range(30):
            opt.zero_grad()
            (layer(x) - target).square().mean().backward()
            opt.step()
        return [t.detach() for t in lora.post_factors(layer)]

    (A1, B1), (A2, B2) = train(4.0, 16, 1e-30), train(2.0, 32, 1e-30)
    torch.testing.assert_close(A1, A2, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(B1, B2, rtol=1e-9, atol=1e-12)
    _, B3 = train(2.0, 16, 1e-30)
    assert float((B3 - B1).norm() / B1.norm()) > 0.05  # the same ratio at alpha = r differs


# ---------------------------------------------------------------------------------------------
# issue 17: cross-check against peft's LoRA+ optimizer, group by group
# ---------------------------------------------------------------------------------------------


class Emb(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.l1, self.norm, self.l2 = (nn.Embedding(10, 8), nn.Linear(8, 8),
                                                 nn.LayerNorm(8), nn.Linear(8, 3))

    def forward(self, x):
        return self.l2(self.norm(self.l1(self.emb(x))))


def test_groups_match_peft_create_loraplus_optimizer():
    """peft (pinned in the report: 0.21.2) against loraplus_param_groups on a peft model with LoRA
    on an Embedding and two Linears and trainable biases: the same parameters and rates in each
    group, except where helpers.lora differs by design (documented): biases keep the base rate
    (peft: ratio * lr), embedding factors follow their role unless embedding_lr is given
    (peft: 1e-6 fixed), and weight decay is left to the optimizer (peft's groups carry its
    loraplus_weight_decay, default 0, whatever weight_decay the optimizer gets)."""
    peft = pytest.importorskip("peft")
    from peft.optimizers import create_loraplus_optimizer

    torch.manual_seed(0)
    model = peft.get_peft_model(Emb(), peft.LoraConfig(r=2, lora_alpha=2, bias="lora_only",
                                                       target_modules=["l1", "l2", "emb"]))
    lr, ratio = 1e-3, 16.0
    theirs = create_loraplus_optimizer(model, torch.optim.AdamW, lr=lr, loraplus_lr_ratio=ratio,
                                       weight_decay=0.5).param_groups
    ids = lambda g: {id(p) for p in g["params"]}  # noqa: E731
    by_lr = {}
    for g in theirs:
        by_lr.setdefault(g["lr"], set()).update(ids(g))
    assert all(g["weight_decay"] == 0.0 for g in theirs)  # peft ignores weight_decay=0.5
    ours = {g["name"]: g for g in lora.loraplus_param_groups(model, lr, ratio, embedding_lr=1e-6)}
    assert set(ours) == {"lora_A", "lora_B", "embedding", "other_no_decay"}
    assert ids(ours["lora_A"]) == by_lr[lr] and ours["lora_A"]["lr"] == lr
    assert ids(ours["embedding"]) == by_lr[1e-6] and ours["embedding"]["lr"] == 1e-6
    biases = {id(model.base_model.model.l1.base_layer.bias),
              id(model.base_model.model.l2.base_layer.bias)}
    assert ids(ours["other_no_decay"]) == biases and ours["other_no_decay"]["lr"] == lr
    assert ids(ours["lora_B"]) | biases == by_lr[lr * ratio]
    assert ours["lora_B"]["lr"] == pytest.approx(lr * ratio)
    # same parameters in all, each once
    assert sorted(id(p) for g in ours.values() for p in g["params"]) == sorted(
        id(p) for g in theirs for p in g["params"])
    # by default the embedding factors follow their role: A at lr, B at ratio * lr
    role = {g["name"]: ids(g) for g in lora.loraplus_param_groups(model, lr, ratio)}
    emb = model.base_model.model.emb
    assert id(emb.lora_embedding_A["default"]) in role["lora_A"]
    assert id(emb.lora_embedding_B["default"]) in role["lora_B"]


def test_peft_model_with_lora_only_on_an_embedding():
    peft = pytest.importorskip("peft")
    model = peft.get_peft_model(Emb(), peft.LoraConfig(r=2, target_modules=["emb"]))
    groups = {g["name"]: g for g in lora.loraplus_param_groups(model, 1e-3, 8)}
    assert set(groups) == {"lora_A", "lora_B"}
    assert groups["lora_B"]["lr"] == pytest.approx(8e-3)


# ---------------------------------------------------------------------------------------------
# the cached sweeps: a cheap slice rerun against each file (sha256 alone compares bytes only)
# ---------------------------------------------------------------------------------------------


def _data_module(name):
    spec = importlib.util.spec_from_file_location(name.replace(".py", ""), ROOT / "data" / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_lora_sweep_slice_reproduces_the_cache():
    """First seed, n = 64, both inputs: 672 runs in well under a second."""
    ls = _data_module("lora_sweep.py")
    torch.set_num_threads(1)
    new = ls.run(seeds=ls.SEEDS[:1], widths=(64,), verbose=False)
    with np.load(ROOT / "data" / "lora_sweep.npz") as f:
        c = ls.compare(new, ls.cached_slice(f, new))
    assert c["status_mismatch"] == 0 and c["compared"] > 500
    assert c["worst"] < ls.TOLERANCE, c


def test_compare_skips_diverged_runs_only():
    ls = _data_module("lora_sweep.py")
    old = {"auc": np.array([0.5, 2e8, 0.1]), "final": np.array([0.2, 1.33e8, 0.05])}
    new = {"auc": np.array([0.5, 2.1e8, 0.1]), "final": np.array([0.2, 1.47e8, 0.05])}
    assert ls.compare(new, old) == {"worst": 0.0, "compared": 2, "diverged": 1,
                                    "status_mismatch": 0}
    new["final"] = np.array([0.2, 0.9, 0.0502])
    c = ls.compare(new, old)
    assert c["status_mismatch"] == 1 and c["worst"] == pytest.approx(4e-3)


def test_k_sweep_slice_reproduces_the_cache():
    ks = _data_module("07_k_sweep.py")
    torch.set_num_threads(1)
    path = ROOT / "data" / "07_k_sweep.npz"
    assert lora.sha256_file(path) == ks.SHA256
    new = ks.run_family(families=("k=n/8",), widths=(64,), seeds=ks.FAMILY_SEEDS[:1])
    with np.load(path) as f:
        fam = list(f["family_names"]).index("k=n/8")
        old = {key: f[f"family_{key}"][fam:fam + 1, :1, :1] for key in ("auc", "final")}
    c = ks.lora_sweep.compare({k: new[f"family_{k}"] for k in ("auc", "final")}, old)
    assert c["status_mismatch"] == 0 and c["compared"] > 200 and c["worst"] < 1e-3, c
