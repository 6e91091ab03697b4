"""Unit tests of helpers/lora.py: the LoRA layer, LoRA+ parameter groups, the vectorised sweep."""

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
    with pytest.raises(ValueError, match="positive"):
        lora.best_log_ratio(x, x)
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
