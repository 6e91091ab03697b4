"""Unit and property tests of helpers/emo.py (notebook 01: the EMO loss)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import emo

FEW = settings(max_examples=25, deadline=None)


def instance(seed: int, n: int = 6, V: int = 9, d: int = 4, dtype=torch.float64, ignore=True):
    g = torch.Generator().manual_seed(seed)
    z = 3 * torch.randn(n, V, generator=g, dtype=dtype)
    t = torch.randint(0, V, (n,), generator=g)
    if ignore:
        t[0] = -100
    E = torch.randn(V, d, generator=g, dtype=dtype)
    return z, t, E


def dense_emo(z, t, E):
    """Σ_i p_i c_{i,t} with the full V×V cosine cost (eq. 5 with eq. 8), float64 numpy."""
    C = emo.cosine_cost(E.numpy())
    p = torch.softmax(z.double(), -1).numpy()
    return np.array([p[k] @ C[:, t[k]] if t[k] >= 0 else 0.0 for k in range(len(t))])


# --- value ---------------------------------------------------------------------------------------


@FEW
@given(seed=st.integers(0, 2**31 - 1), V=st.integers(2, 9), d=st.integers(1, 5))
def test_closed_form_equals_optimal_transport(seed, V, d):
    """Eq. (5)/(9): with a one-hot target, emo_loss is the exact OT cost (POT and HiGHS LP)."""
    z, t, E = instance(seed, n=3, V=V, d=d, ignore=False)
    C = emo.cosine_cost(E.numpy())
    p = torch.softmax(z, -1).numpy()
    got = emo.emo_loss(z, t, E, reduction="none").numpy()
    for k in range(3):
        tau = np.eye(V)[t[k]]
        assert got[k] == pytest.approx(emo.transport_cost(p[k], tau, C), abs=1e-9)
        assert got[k] == pytest.approx(emo.transport_cost(p[k], tau, C, "linprog"), abs=1e-9)


def test_matches_dense_cost_and_masks():
    z, t, E = instance(1, n=8, V=13, d=3)
    got = emo.emo_loss(z, t, E, reduction="none")
    np.testing.assert_allclose(got.numpy(), dense_emo(z, t, E), atol=1e-13)
    assert got[0] == 0.0  # ignored token
    mean = emo.emo_loss(z, t, E)
    assert mean.item() == pytest.approx(got.sum().item() / 7, rel=1e-14)
    assert emo.emo_loss(z, t, E, reduction="sum").item() == pytest.approx(got.sum().item())


def test_batch_shape_and_none_reduction():
    z, t, E = instance(2, n=12, V=7, d=3)
    out = emo.emo_loss(z.reshape(3, 4, 7), t.reshape(3, 4), E, reduction="none")
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out.reshape(-1).numpy(), dense_emo(z, t, E), atol=1e-13)


def test_all_ignored_mean_is_zero_with_zero_grad():
    z, t, E = instance(3)
    z.requires_grad_()
    loss = emo.emo_loss(z, torch.full_like(t, -100), E)
    loss.backward()
    assert loss.item() == 0.0 and torch.all(z.grad == 0)


def test_zero_one_cost_gives_one_minus_pt():
    """Eq. (7): orthonormal embeddings give c = 1 - δ, so EMO = 1 - p_t."""
    z, t, _ = instance(4, V=6, ignore=False)
    got = emo.emo_loss(z, t, torch.eye(6, dtype=torch.float64), reduction="none")
    p_t = torch.softmax(z, -1).gather(1, t[:, None]).squeeze(1)
    torch.testing.assert_close(got, 1 - p_t, atol=1e-14, rtol=0)


# --- gradient ------------------------------------------------------------------------------------


def test_gradcheck_float64():
    z, t, E = instance(5)
    z.requires_grad_()
    assert torch.autograd.gradcheck(lambda x: emo.emo_loss(x, t, E, reduction="none"), (z,))


def test_gradient_formula_E3():
    """dL/dz_j = p_j (c_{j,t} - L) for one token."""
    z, t, E = instance(6, n=1, V=11, ignore=False)
    z.requires_grad_()
    loss = emo.emo_loss(z, t, E, reduction="sum")
    (g,) = torch.autograd.grad(loss, z)
    p = torch.softmax(z, -1).detach().numpy()[0]
    c = emo.cosine_cost(E.numpy())[:, t[0]]
    np.testing.assert_allclose(g.numpy()[0], p * (c - loss.item()), atol=1e-14)


@pytest.mark.parametrize("mode", [1, 2])
def test_mix_matches_official_recipe(mode):
    """Without the later p_t offset, the official dense recipe is the same loss (value, grad)."""
    z, t, E = instance(7, n=10, V=12, d=5)
    z1, z2 = z.clone().requires_grad_(), z.clone().requires_grad_()
    a = emo.emo_mix_loss(z1, t, E, mode=mode)
    b = emo.emo_official(z2, t, E, mode=mode, offset=False)
    a.backward()
    b.backward()
    # the official 1e-10 guard and 1e-15 one-hot smoothing differ from ours at ~1e-11
    assert a.item() == pytest.approx(b.item(), rel=1e-9)
    torch.testing.assert_close(z1.grad, z2.grad, atol=1e-9, rtol=0)


def test_mix_gradient_is_weighted_ce_plus_emo():
    z, t, E = instance(8, n=5, V=7, ignore=False)
    z.requires_grad_()
    ce = F.cross_entropy(z, t, reduction="none")
    e = emo.emo_loss(z, t, E, reduction="none")
    r = (ce / e).detach()
    (g_ref,) = torch.autograd.grad((0.5 * (ce + r * e)).sum(), z)
    (g,) = torch.autograd.grad(emo.emo_mix_loss(z, t, E, reduction="sum"), z)
    torch.testing.assert_close(g, g_ref, atol=1e-13, rtol=0)


def test_official_offset_changes_value_by_pt_not_gradient():
    z, t, E = instance(9, n=6, V=10, d=3)
    z1, z2 = z.clone().requires_grad_(), z.clone().requires_grad_()
    fixed = emo.emo_official(z1, t, E, mode=None, offset=True)
    plain = emo.emo_loss(z2, t, E, reduction="none")
    p_t = torch.softmax(z, -1).gather(1, t.clamp_min(0)[:, None]).squeeze(1) * (t >= 0)
    torch.testing.assert_close(fixed - plain, p_t, atol=1e-12, rtol=0)
    fixed.sum().backward()
    plain.sum().backward()
    torch.testing.assert_close(z1.grad, z2.grad, atol=1e-12, rtol=0)


def test_ignored_tokens_get_no_gradient_in_mix():
    z, t, E = instance(10)
    z.requires_grad_()
    emo.emo_mix_loss(z, t, E).backward()
    assert torch.all(z.grad[0] == 0) and torch.isfinite(z.grad).all()


# --- low precision -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_inputs_computed_in_float32(dtype):
    z, t, E = instance(11, n=16, V=50, d=8, dtype=torch.float32)
    zl = z.to(dtype).requires_grad_()
    loss = emo.emo_loss(zl, t, E.to(dtype))
    loss.backward()
    assert loss.dtype == torch.float32 and zl.grad.dtype == dtype
    ref = emo.emo_loss(zl.detach().double(), t, E.to(dtype).double())
    assert loss.item() == pytest.approx(ref.item(), abs=1e-6)
    mix = emo.emo_mix_loss(zl, t, E.to(dtype))
    assert torch.isfinite(mix)  # ignored tokens: 0 / floor, not 0 / 0


def test_confident_correct_token_is_safe_in_float16():
    """Logit margin 30 in fp16: EMO underflows to ~0; the mix stays finite and tiny."""
    V = 32
    z = torch.zeros(2, V, dtype=torch.float16)
    z[:, 3] = 30
    t = torch.tensor([3, -100])
    E = torch.randn(V, 4, generator=torch.Generator().manual_seed(0))
    z.requires_grad_()
    mix = emo.emo_mix_loss(z, t, E.half())
    mix.backward()
    assert torch.isfinite(mix) and mix.item() < 1e-5 and torch.isfinite(z.grad).all()


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, exc, words",
    [
        (lambda z, t, E: (z, t[:-1], E), ValueError, "targets: expected shape"),
        (lambda z, t, E: (z, t, E[:-1]), ValueError, "embeddings: expected shape"),
        (lambda z, t, E: (z, t.float(), E), TypeError, "targets: expected an integer"),
        (lambda z, t, E: (z.long(), t, E), TypeError, "logits: expected a real floating-point"),
        (lambda z, t, E: (z.numpy(), t, E), TypeError, "logits: expected a torch tensor"),
        (lambda z, t, E: (z, t.clone().fill_(9), E), ValueError, "found 9"),
        (lambda z, t, E: (z, t.clone().fill_(-1), E), ValueError, "found -1"),
        (lambda z, t, E: (z.clone().fill_(float("nan")), t, E), ValueError, "finite"),
        (lambda z, t, E: (torch.where(z > 0, z, -float("inf")), t, E), ValueError, "finite"),
        (lambda z, t, E: (z, t, E * 0), ValueError, "all zeros"),
        (lambda z, t, E: (z, t, E.clone().fill_(float("inf"))), ValueError, "embeddings: exp"),
        (lambda z, t, E: (z, t.to(z.device), E.float()), None, None),
    ],
)
def test_bad_input_raises(make, exc, words):
    z, t, E = instance(12)
    if exc is None:  # mixed float dtypes of logits and embeddings are fine
        assert torch.isfinite(emo.emo_loss(*make(z, t, E)))
        return
    with pytest.raises(exc, match=words):
        emo.emo_loss(*make(z, t, E))


def test_bad_options_raise():
    z, t, E = instance(13)
    with pytest.raises(ValueError, match="reduction"):
        emo.emo_loss(z, t, E, reduction="avg")
    with pytest.raises(ValueError, match="mode"):
        emo.emo_mix_loss(z, t, E, mode=3)
    with pytest.raises(ValueError, match="max_ratio"):
        emo.emo_mix_loss(z, t, E, max_ratio=0)


# --- reference transport -------------------------------------------------------------------------


@FEW
@given(seed=st.integers(0, 2**31 - 1), V=st.integers(2, 7), W=st.integers(2, 7))
def test_soft_label_upper_bound_and_solvers_agree(seed, V, W):
    """Eq. (6): the independent coupling bounds the OT cost; POT and the LP agree."""
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.ones(V)), rng.dirichlet(np.full(W, 0.5))
    q = q * p.sum() / q.sum()
    C = rng.random((V, W))
    pot, lp = emo.transport_cost(p, q, C), emo.transport_cost(p, q, C, "linprog")
    assert pot == pytest.approx(lp, abs=1e-8)
    assert pot <= p @ C @ q + 1e-10


def test_zero_one_cost_is_total_variation():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(7), size=2)
    C = 1 - np.eye(7)
    assert emo.transport_cost(p, q, C) == pytest.approx(0.5 * np.abs(p - q).sum(), abs=1e-12)


def test_transport_cost_bad_input():
    with pytest.raises(ValueError, match="equal total mass"):
        emo.transport_cost([0.5, 0.5], [0.5, 0.6], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="cost: expected shape"):
        emo.transport_cost([1.0], [0.5, 0.5], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="p: expected values >= 0"):
        emo.transport_cost([1.5, -0.5], [0.5, 0.5], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="method"):
        emo.transport_cost([1.0], [1.0], np.zeros((1, 1)), "sinkhorn")


def test_cosine_cost_is_half_squared_chord():
    E = np.random.default_rng(1).standard_normal((6, 3))
    U = E / np.linalg.norm(E, axis=1, keepdims=True)
    half_sq = 0.5 * ((U[:, None] - U[None]) ** 2).sum(-1)
    np.testing.assert_allclose(emo.cosine_cost(E), half_sq, atol=1e-14)


# --- optimum of CE + λ EMO -----------------------------------------------------------------------


@FEW
@given(seed=st.integers(0, 2**31 - 1), lam=st.floats(0.0, 20.0))
def test_mix_optimum_satisfies_kkt(seed, lam):
    rng = np.random.default_rng(seed)
    V = 6
    P = rng.dirichlet(np.ones(V))
    P[rng.random(V) < 0.3] = 0.0
    if P.sum() == 0:
        P[0] = 1.0
    P /= P.sum()
    a = rng.random(V)
    q = emo.mix_optimum(P, a, lam)
    assert q.sum() == pytest.approx(1.0, abs=1e-12) and np.all(q >= 0)
    # KKT: g_i = -P_i/q_i + λ a_i is equal (= -μ) where q_i > 0 and ≥ that value where q_i = 0
    pos = q > 0
    g = np.where(pos, -P / np.where(pos, q, 1) + lam * a, lam * a)
    level = g[pos].mean()
    np.testing.assert_allclose(g[pos], level, atol=1e-8 * max(1, abs(level)))
    assert np.all(g[~pos] >= level - 1e-8 * max(1, abs(level)))
    assert np.all(q[P > 0] > 0)  # the CE term keeps every data token


def test_mix_optimum_leaks_to_a_central_token():
    """The notebook's 'middle token' example: q leaves supp(P) once λ > (1)/(0.5-0.2929)."""
    E = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    P = np.array([0.5, 0.5, 0.0])
    a = emo.cosine_cost(E) @ P
    lam_star = 1 / (a[0] - a[2])
    assert emo.mix_optimum(P, a, 0.99 * lam_star)[2] == 0.0
    assert emo.mix_optimum(P, a, 1.01 * lam_star)[2] > 0.0


# --- toy task ------------------------------------------------------------------------------------


def test_synonym_task_metrics_of_the_truth():
    task = emo.SynonymTask.make(np.random.default_rng(0), K=6, S=3, d=4)
    P = task.P
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(task.stationary @ P, task.stationary, atol=1e-12)
    m = task.metrics(P)
    assert m["nll"] == pytest.approx(m["entropy"], abs=1e-12)
    assert m["nll"] == pytest.approx(m["concept_nll"] + np.log(3), abs=1e-12)
    seq = task.sample(200, np.random.default_rng(1))
    assert seq.shape == (201,) and seq.min() >= 0 and seq.max() < task.V


# --- issue 15: library behaviour ----------------------------------------------------------------


def test_mix_optimum_huge_lambda_finishes():
    """λ = 1e16 used to hang (``lo + 1.0`` lost to rounding); the answer is the cheaper vertex."""
    q = emo.mix_optimum(np.array([0.5, 0.5]), np.array([1.0, 2.0]), 1e16)
    np.testing.assert_allclose(q, [1.0, 0.0], atol=1e-15)
    q = emo.mix_optimum(np.array([0.5, 0.5, 0.0]), np.array([1.0, 2.0, 0.5]), 1e300)
    np.testing.assert_allclose(q, [0.0, 0.0, 1.0], atol=1e-15)
    assert np.isfinite(q).all()


def test_transport_cost_any_memory_layout():
    rng = np.random.default_rng(5)
    big = rng.random((6, 10))
    p, q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(5))
    cost = big[:, ::2]  # a non-contiguous view
    ref = emo.transport_cost(p, q, np.ascontiguousarray(cost))
    assert emo.transport_cost(p, q, cost) == ref
    assert emo.transport_cost(p, q, np.asfortranarray(cost)) == ref
    pp = np.repeat(p, 2)[::2]  # a strided p
    assert emo.transport_cost(pp, q, cost, "linprog") == pytest.approx(ref, abs=1e-9)


def test_linprog_is_sparse_and_has_a_size_budget():
    rng = np.random.default_rng(6)
    p, q = rng.dirichlet(np.ones(60)), rng.dirichlet(np.ones(50))
    C = rng.random((60, 50))
    lp = emo.transport_cost(p, q, C, "linprog")
    assert lp == pytest.approx(emo.transport_cost(p, q, C), abs=1e-8)
    n = 3000  # a 9e6-entry plan: refused before anything large is built
    with pytest.raises(ValueError, match="size budget"):
        emo.transport_cost(np.full(n, 1 / n), np.full(n, 1 / n), np.zeros((2, 2)), "linprog")


@pytest.mark.parametrize("fn", [
    lambda: emo.transport_cost(np.array([0.5 + 0j, 0.5]), [0.5, 0.5], np.zeros((2, 2))),
    lambda: emo.cosine_cost(np.ones((2, 2)) + 1j),
    lambda: emo.mix_optimum(np.array([0.5, 0.5]), np.array([1.0, 2.0 + 1j]), 1.0),
    lambda: emo.SynonymTask.make(np.random.default_rng(0), K=3, S=2, d=2).metrics(np.eye(6) + 0j),
])
def test_complex_input_is_rejected(fn):
    with pytest.raises(TypeError, match="complex"):
        fn()


def test_ignore_index_must_be_an_integer():
    z, t, E = instance(14)
    for bad in (None, 2.5, True):
        with pytest.raises(TypeError, match="ignore_index"):
            emo.emo_loss(z, t, E, ignore_index=bad)


def test_double_backward_create_graph():
    """create_graph=True: the backward is rebuilt from differentiable ops."""
    z, t, E = instance(15, n=4, V=6, d=3)
    z.requires_grad_()
    assert torch.autograd.gradgradcheck(lambda x: emo.emo_loss(x, t, E), (z,))
    # The mix's ratio is detached, so finite differences of its gradient see the ratio move and
    # gradgradcheck does not apply; compare Hessian-vector products with autograd through the
    # dense form (eq. 5) instead, the ratio detached in both.
    C = torch.from_numpy(emo.cosine_cost(E.numpy()))
    mask = t >= 0
    safe = t.clamp_min(0)

    def dense_emo(x):
        return (torch.softmax(x, -1) * C[:, safe].T).sum(1) * mask

    def dense_mix(x):
        ce = F.cross_entropy(x, safe, reduction="none") * mask
        e = dense_emo(x)
        r = (ce / e.clamp_min(1e-300)).detach()
        return (0.5 * (ce + r * e)).sum() / mask.sum()

    v = torch.randn_like(z)
    pairs = ((lambda x: emo.emo_loss(x, t, E), lambda x: dense_emo(x).sum() / mask.sum()),
             (lambda x: emo.emo_mix_loss(x, t, E), dense_mix))
    for ours, ref in pairs:
        hv = []
        for fn in (ours, ref):
            (g,) = torch.autograd.grad(fn(z), z, create_graph=True)
            (h,) = torch.autograd.grad((g * v).sum(), z)
            hv.append(h)
        torch.testing.assert_close(hv[0], hv[1], atol=1e-12, rtol=0)


def test_first_order_backward_unchanged_by_double_backward_path():
    z, t, E = instance(16)
    z1, z2 = z.clone().requires_grad_(), z.clone().requires_grad_()
    (g1,) = torch.autograd.grad(emo.emo_loss(z1, t, E), z1)
    (g2,) = torch.autograd.grad(emo.emo_loss(z2, t, E), z2, create_graph=True)
    torch.testing.assert_close(g1, g2.detach(), atol=1e-15, rtol=0)


def test_official_clip_only_in_mode_1_and_bool_mode_rejected():
    z, t, E = instance(17)
    with pytest.raises(ValueError, match="max_ratio"):
        emo.emo_official(z, t, E, mode=2, max_ratio=3.0)
    with pytest.raises(ValueError, match="mode"):
        emo.emo_mix_loss(z, t, E, mode=True)


def test_namespace_and_light_import():
    import subprocess
    import sys

    assert "F" not in vars(emo) and set(emo.__all__) <= set(vars(emo))
    code = "import sys, helpers.emo; print(any(m in sys.modules for m in ('torch', 'ot', 'scipy')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- the toy language model (SynonymTask.fit_bigram) and its cached sweep, data/01_bigram_sweep.py

def test_fit_bigram_rejects_bad_input():
    task = emo.SynonymTask.make(np.random.default_rng(0), K=3, S=2, d=4)
    seq = task.sample(50, np.random.default_rng(1))
    with pytest.raises(ValueError, match="loss"):
        task.fit_bigram(seq, "MSE")
    with pytest.raises(TypeError, match="seq"):
        task.fit_bigram(seq.astype(float))
    with pytest.raises(ValueError, match="token ids"):
        task.fit_bigram(np.array([0, task.V]))
    with pytest.raises(ValueError, match="T"):
        emo.tempered(np.zeros((2, 2)), 0.0)


def test_fit_bigram_learns_the_pair_counts():
    """With CE and many steps the bigram network approaches the empirical next-token law."""
    task = emo.SynonymTask.make(np.random.default_rng(0), K=3, S=2, d=4)
    seq = task.sample(400, np.random.default_rng(1))
    counts = np.zeros((task.V, task.V))
    np.add.at(counts, (seq[:-1], seq[1:]), 1)
    seen = counts.sum(1) > 0
    q = emo.tempered(task.fit_bigram(seq, "CE", steps=1500, seed=0))
    empirical = counts[seen] / counts[seen].sum(1, keepdims=True)
    assert np.abs(q[seen] - empirical).max() < 1e-3  # about 3e-5 for seeds 0-3


def test_bigram_sweep_is_the_recorded_file_and_a_slice_reproduces_it():
    import hashlib
    import importlib.util
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "data"
    digest = hashlib.sha256((data / "01_bigram_sweep.npz").read_bytes()).hexdigest()
    assert digest == "4d9e596bc3f56a3f26cb8e03c97093daca0d83bd1d4e90820a3095ec677bad2e"
    spec = importlib.util.spec_from_file_location("data01_bigram_sweep", data / "01_bigram_sweep.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with np.load(mod.OUT) as f:
        cached = dict(f)
    fresh = mod.run(draws=(0,), ns=(2000,), verbose=False)  # float32 training: 1e-2 allowed
    assert mod.compare(cached, fresh) < mod.TOLERANCE
