"""Unit tests of helpers/sgd.py: the bound (4), schedules, projections, losses, the runner, the
comparators and the plotting helpers."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from scipy import optimize  # noqa: E402

from helpers import sgd  # noqa: E402

FEW = settings(max_examples=25, deadline=None)
pos = st.floats(0.05, 20, allow_nan=False)


def non_increasing(seed, T, lo=0.01, hi=2.0):
    return np.sort(np.random.default_rng(seed).uniform(lo, hi, T))[::-1].copy()


# ---------------------------------------------------------------------------------------------
# the bound and the schedules
# ---------------------------------------------------------------------------------------------


@FEW
@given(pos, pos, st.integers(1, 5000))
def test_constant_schedule_at_its_optimum_gives_DG_over_sqrtT(D, G, T):
    lrs = sgd.constant_schedule(T, sgd.optimal_eta(D, G, T))
    assert sgd.regret_bound(D, G, lrs) == pytest.approx(D * G / math.sqrt(T), rel=1e-12)
    assert sgd.regret_bound(D, G, lrs) == pytest.approx(sgd.constant_bound(D, G, T), rel=1e-12)
    # any other constant rate is worse (AM-GM, eq. 5)
    for factor in (0.5, 2.0):
        assert sgd.regret_bound(D, G, lrs * factor) > sgd.regret_bound(D, G, lrs)


def test_regret_bound_formula_shapes_and_total():
    lrs = np.array([[0.5, 0.4, 0.1], [1.0, 1.0, 1.0]])
    expected = np.array([4 / (2 * 0.1) + 1 / 2 * 1.0, 4 / 2 + 1 / 2 * 3.0])
    np.testing.assert_allclose(sgd.regret_bound(2.0, 1.0, lrs, average=False), expected)
    np.testing.assert_allclose(sgd.regret_bound(2.0, 1.0, lrs), expected / 3)
    assert sgd.regret_bound(2.0, 1.0, lrs).shape == (2,)
    assert np.ndim(sgd.regret_bound(2.0, 1.0, [0.3])) == 0


@pytest.mark.parametrize("D, G", [(0, 1), (-1, 1), (1, 0), (1, -2), (math.inf, 1), (1, math.nan)])
def test_non_positive_constants_are_rejected(D, G):
    name = "D" if not (D > 0 and math.isfinite(D)) else "G"
    with pytest.raises(ValueError, match=f"^{name}: "):
        sgd.regret_bound(D, G, [0.1, 0.1])
    with pytest.raises(ValueError, match=f"^{name}: "):
        sgd.general_regret_bound(D, G, [0.1, 0.1])


@pytest.mark.parametrize("bad", [[0.1, 0.0], [0.1, -0.1], [0.1, np.nan], [np.inf], []])
def test_bad_rates_are_rejected(bad):
    with pytest.raises(ValueError, match="lrs"):
        sgd.regret_bound(1.0, 1.0, bad)


def test_type_errors_name_the_argument():
    with pytest.raises(TypeError, match="^D: "):
        sgd.regret_bound("1", 1.0, [0.1])
    with pytest.raises(TypeError, match="^G: "):
        sgd.regret_bound(1.0, True, [0.1])
    with pytest.raises(TypeError, match="lrs"):
        sgd.regret_bound(1.0, 1.0, ["a", "b"])
    with pytest.raises(TypeError, match="^T: "):
        sgd.constant_schedule(10.0, 0.1)
    with pytest.raises(ValueError, match="^T: "):
        sgd.inv_sqrt_schedule(0, 1.0)


def test_increasing_rates_need_the_general_bound():
    warm = sgd.warmup_schedule(10, 1.0)
    with pytest.raises(ValueError, match="non-increasing"):
        sgd.regret_bound(1.0, 1.0, warm)
    formula = sgd.regret_bound(1.0, 1.0, warm, check_monotone=False)
    assert sgd.general_regret_bound(1.0, 1.0, warm) > formula
    # for a warm-up every coefficient of (14a) is negative: the distance part is D^2 / (2 eta_1)
    assert sgd.general_regret_bound(1.0, 1.0, warm, average=False) == pytest.approx(1 / (2 * 0.1) + warm.sum() / 2)


@FEW
@given(st.integers(0, 10**6), st.integers(1, 300), pos, pos)
def test_general_bound_equals_4_for_monotone_and_dominates_the_formula_otherwise(seed, T, D, G):
    mono = non_increasing(seed, T)
    np.testing.assert_allclose(sgd.general_regret_bound(D, G, mono), sgd.regret_bound(D, G, mono), rtol=1e-10)
    wild = np.random.default_rng(seed).uniform(0.01, 2.0, T)
    assert sgd.general_regret_bound(D, G, wild) >= sgd.regret_bound(D, G, wild, check_monotone=False) * (1 - 1e-12)


def test_schedules_values():
    np.testing.assert_allclose(sgd.inv_sqrt_schedule(4, 2.0), [2, 2 / math.sqrt(2), 2 / math.sqrt(3), 1])
    np.testing.assert_allclose(sgd.linear_decay_schedule(4, 1.0), [1, 0.75, 0.5, 0.25])
    np.testing.assert_allclose(sgd.warmup_schedule(4, 1.0), [0.25, 0.5, 0.75, 1.0])
    assert np.all(np.diff(sgd.linear_decay_schedule(50, 0.3)) < 0)
    assert sgd.optimal_alpha(4.0, 1.0) == pytest.approx(4 / math.sqrt(2))


@FEW
@given(pos, pos, st.integers(1, 10**5))
def test_optimal_alpha_minimises_8_and_the_sharp_form_is_between(D, G, T):
    a = sgd.optimal_alpha(D, G)
    best = sgd.inv_sqrt_bound(D, G, T, a)
    assert best == pytest.approx(math.sqrt(2) * D * G / math.sqrt(T), rel=1e-12)
    for f in (0.7, 1.3):
        assert sgd.inv_sqrt_bound(D, G, T, a * f) > best
    exact = sgd.regret_bound(D, G, sgd.inv_sqrt_schedule(T, a)) if T <= 20000 else None
    sharp = sgd.inv_sqrt_bound(D, G, T, a, sharp=True)
    assert sharp < best
    if exact is not None:
        assert exact <= sharp * (1 + 1e-12)


def test_sum_inv_sqrt_obeys_7():
    S = sgd.sum_inv_sqrt(20000)
    T = np.arange(1, 20001)
    assert S[0] == 1.0 and np.all(S <= 2 * np.sqrt(T) - 1 + 1e-12) and np.all(S >= 2 * np.sqrt(T + 1) - 2)


# ---------------------------------------------------------------------------------------------
# projections
# ---------------------------------------------------------------------------------------------


@FEW
@given(st.integers(0, 10**6), st.integers(1, 8), st.floats(0.1, 5))
def test_projections_are_non_expansive_towards_the_set(seed, dim, radius):
    rng = np.random.default_rng(seed)
    phi = 4 * rng.standard_normal((50, dim))
    for proj in (lambda v: sgd.project_ball(v, radius), lambda v: sgd.project_box(v, -radius, radius)):
        theta = proj(3 * rng.standard_normal((50, dim)))  # points of the set
        p = proj(phi)
        assert np.all(np.linalg.norm(p - theta, axis=1) <= np.linalg.norm(phi - theta, axis=1) + 1e-12)  # (19)
        assert np.all(np.einsum("nd,nd->n", p - theta, phi - p) >= -1e-10)  # (23)
        np.testing.assert_allclose(proj(p), p, atol=1e-12)  # idempotent


def test_ball_projection_values_and_center():
    np.testing.assert_allclose(sgd.project_ball([3.0, 4.0], 1.0), [0.6, 0.8])
    np.testing.assert_allclose(sgd.project_ball([0.1, 0.2], 1.0), [0.1, 0.2])
    np.testing.assert_allclose(sgd.project_ball([0.0, 0.0], 1.0), [0.0, 0.0])
    np.testing.assert_allclose(sgd.project_ball([3.0, 1.0], 1.0, center=[1.0, 1.0]), [2.0, 1.0])
    with pytest.raises(ValueError, match="radius"):
        sgd.project_ball([1.0], 0.0)
    with pytest.raises(ValueError, match="center"):
        sgd.project_ball([1.0, 2.0], 1.0, center=[0.0])
    with pytest.raises(ValueError, match="lo <= hi"):
        sgd.project_box([1.0], 1.0, -1.0)


def test_box_projection_is_the_argmin():
    rng = np.random.default_rng(3)
    for _ in range(5):
        phi = 3 * rng.standard_normal(3)
        ref = optimize.minimize(lambda v: ((v - phi) ** 2).sum(), np.zeros(3), bounds=[(-1, 1)] * 3).x
        np.testing.assert_allclose(sgd.project_box(phi, -1, 1), ref, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------------------------


def test_logistic_gradient_matches_finite_differences_and_is_bounded():
    rng = np.random.default_rng(0)
    X = sgd.project_ball(rng.standard_normal((3, 5, 4)), 1.0)
    y = np.where(rng.random((3, 5)) < 0.5, 1.0, -1.0)
    theta = rng.standard_normal((3, 4))
    loss, grad = sgd.logistic_loss_grad(theta, X, y)
    h, num = 1e-6, np.empty_like(theta)
    for j in range(4):
        e = np.zeros(4)
        e[j] = h
        num[:, j] = (sgd.logistic_loss_grad(theta + e, X, y)[0] - sgd.logistic_loss_grad(theta - e, X, y)[0]) / (2 * h)
    np.testing.assert_allclose(grad, num, atol=1e-8)
    np.testing.assert_allclose(loss, np.log1p(np.exp(-y * np.einsum("sbd,sd->sb", X, theta))).mean(1))
    assert np.all(np.linalg.norm(grad, axis=1) < 1)


def test_absolute_and_linear_losses():
    X = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    y = np.array([[1.0, -1.0]])
    loss, grad = sgd.absolute_loss_grad(np.array([[2.0, 0.0]]), X, y)
    np.testing.assert_allclose(loss, [(1 + 1) / 2])
    np.testing.assert_allclose(grad, [[0.5, 0.5]])
    loss, grad = sgd.linear_loss_grad(np.array([[1.0, 2.0]]), np.array([[3.0, -1.0]]))
    np.testing.assert_allclose(loss, [1.0])
    np.testing.assert_allclose(grad, [[3.0, -1.0]])


def test_on_dataset_and_draw_counts():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((2, 6, 3)), np.where(rng.random((2, 6)) < 0.5, 1.0, -1.0)
    idx = rng.integers(0, 6, (4, 2))  # 4 runs reading data sets 0, 1, 0, 1
    f = sgd.on_dataset(sgd.logistic_loss_grad, X, y, datasets=np.array([0, 1, 0, 1]))
    theta = rng.standard_normal((4, 3))
    loss, _ = f(theta, idx)
    rows = [0, 1, 0, 1]
    ref = [sgd.logistic_loss_grad(theta[r:r + 1], X[rows[r]][idx[r]][None], y[rows[r]][idx[r]][None])[0][0] for r in range(4)]
    np.testing.assert_allclose(loss, ref)
    counts = sgd.draw_counts(rng.integers(0, 6, (2, 10, 3)), 6)
    assert counts.shape == (2, 6) and np.all(counts.sum(1) == 30)
    with pytest.raises(ValueError, match="datasets"):
        sgd.on_dataset(sgd.logistic_loss_grad, X, y, datasets=np.array([0, 2]))
    with pytest.raises(TypeError, match="datasets"):
        sgd.on_dataset(sgd.logistic_loss_grad, X, y, datasets=np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="^X: "):
        sgd.on_dataset(sgd.logistic_loss_grad, X[0], y)


# ---------------------------------------------------------------------------------------------
# the runner
# ---------------------------------------------------------------------------------------------


def test_runner_matches_a_hand_written_loop():
    rng = np.random.default_rng(2)
    S, T, d = 3, 40, 2
    g = rng.standard_normal((S, T, d))
    lrs = sgd.inv_sqrt_schedule(T, 0.7)
    u = np.array([0.3, -0.2])
    run = sgd.projected_sgd(sgd.linear_loss_grad, [g], np.zeros(d), lrs, lambda v: sgd.project_ball(v, 1.0), u,
                            log_post_update=True, keep_path=True)
    for s in range(S):
        th = np.zeros(d)
        for t in range(T):
            assert run.losses[s, t] == pytest.approx(g[s, t] @ th)
            assert run.comparator_losses[s, t] == pytest.approx(g[s, t] @ u)
            np.testing.assert_allclose(run.path[s, t], th)
            th = sgd.project_ball(th - lrs[t] * g[s, t], 1.0)
            assert run.post_losses[s, t] == pytest.approx(g[s, t] @ th)
        np.testing.assert_allclose(run.theta_last[s], th)
    np.testing.assert_allclose(run.dist_sq, ((run.path - u) ** 2).sum(-1))
    assert run.T == T and run.lrs.shape == (S, T)


@FEW
@given(st.integers(0, 10**6), st.integers(1, 60), st.integers(1, 4), st.floats(0.2, 3))
def test_the_theorem_on_random_linear_losses(seed, T, dim, R):
    """(4) holds pathwise for every comparator in the ball, and (12) holds at every step."""
    rng = np.random.default_rng(seed)
    S = 4
    grads = sgd.project_ball(2 * rng.standard_normal((S, T, dim)), 1.0)  # G = 1
    u = sgd.project_ball(2 * rng.standard_normal((S, dim)), R)
    for lrs in (non_increasing(seed, T, 0.01, 3.0), sgd.inv_sqrt_schedule(T, 0.5)):
        run = sgd.projected_sgd(sgd.linear_loss_grad, [grads], sgd.project_ball(rng.standard_normal(dim), R), lrs,
                                lambda v: sgd.project_ball(v, R), u)
        assert np.all(run.average_regret <= sgd.regret_bound(2 * R, 1.0, lrs) + 1e-12)
        assert np.all(run.losses - run.comparator_losses <= run.step_bounds + 1e-12)
        assert np.all(run.average_regret <= run.trajectory_bound() + 1e-12)
    wild = rng.uniform(0.01, 3.0, T)
    run = sgd.projected_sgd(sgd.linear_loss_grad, [grads], np.zeros(dim), wild, lambda v: sgd.project_ball(v, R), u)
    assert np.all(run.average_regret <= sgd.general_regret_bound(2 * R, 1.0, wild) + 1e-12)


def test_orthogonal_instance_attains_the_bound():
    for T in (1, 9, 50):
        grads, lrs = sgd.orthogonal_instance(T, D=3.0, G=2.0)
        u = -lrs[0] * 2.0 * np.ones(T)
        run = sgd.projected_sgd(sgd.linear_loss_grad, [grads], np.zeros(T), lrs, None, u)
        np.testing.assert_allclose(run.average_regret, [3.0 * 2.0 / math.sqrt(T)], rtol=1e-12)
        np.testing.assert_allclose(run.average_regret, sgd.regret_bound(3.0, 2.0, lrs), rtol=1e-12)


def test_runner_argument_errors():
    g = np.zeros((2, 5, 3))
    with pytest.raises(TypeError, match="loss_grad"):
        sgd.projected_sgd(None, [g], np.zeros(3), np.ones(5))
    with pytest.raises(TypeError, match="stream"):
        sgd.projected_sgd(sgd.linear_loss_grad, g, np.zeros(3), np.ones(5))
    with pytest.raises(ValueError, match="lrs: expected shape"):
        sgd.projected_sgd(sgd.linear_loss_grad, [g], np.zeros(3), np.ones(4))
    with pytest.raises(ValueError, match="lrs"):
        sgd.projected_sgd(sgd.linear_loss_grad, [g], np.zeros(3), -np.ones(5))
    with pytest.raises(ValueError, match="theta1"):
        sgd.projected_sgd(sgd.linear_loss_grad, [g], np.zeros((3, 3)), np.ones(5))
    with pytest.raises(ValueError, match="comparator"):
        sgd.projected_sgd(sgd.linear_loss_grad, [g], np.zeros(3), np.ones(5), comparator=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="^stream: "):
        sgd.projected_sgd(sgd.linear_loss_grad, [g, np.zeros((2, 4))], np.zeros(3), np.ones(5))
    run = sgd.projected_sgd(sgd.linear_loss_grad, [g], np.zeros(3), np.ones(5))
    with pytest.raises(ValueError, match="without a comparator"):
        run.average_regret
    run = sgd.projected_sgd(sgd.linear_loss_grad, [g], np.zeros(3), sgd.warmup_schedule(5, 1.0), comparator=np.zeros(3))
    with pytest.raises(ValueError, match="non-increasing"):
        run.trajectory_bound()


# ---------------------------------------------------------------------------------------------
# comparators
# ---------------------------------------------------------------------------------------------


def _logistic_data(seed, S=2, N=60, d=3):
    rng = np.random.default_rng(seed)
    X = sgd.project_ball(rng.standard_normal((S, N, d)), 1.0)
    y = np.where(rng.random((S, N)) < 1 / (1 + np.exp(-X @ np.ones(d))), 1.0, -1.0)
    w = rng.integers(0, 3, (S, N)).astype(float)
    return X, y, w


def test_logistic_comparator_matches_lbfgs_inside_and_is_certified_on_the_boundary():
    X, y, w = _logistic_data(0)
    theta, val, gap = sgd.logistic_comparator(X, y, w, 50.0)
    for s in range(2):
        ws = w[s] / w[s].sum()
        F = lambda th: (ws * np.logaddexp(0, -y[s] * (X[s] @ th))).sum()  # noqa: E731
        ref = optimize.minimize(F, np.zeros(3), method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15})
        assert val[s] <= ref.fun + 1e-9 and gap[s] < 1e-9
    theta, val, gap = sgd.logistic_comparator(X, y, w, 0.1)  # the constraint binds
    np.testing.assert_allclose(np.linalg.norm(theta, axis=1), 0.1, rtol=1e-9)
    assert np.all(gap < 1e-9)
    rng = np.random.default_rng(1)
    for s in range(2):
        ws = w[s] / w[s].sum()
        others = sgd.project_ball(rng.standard_normal((200, 3)), 0.1)
        vals = (ws * np.logaddexp(0, -y[s] * (others @ X[s].T))).sum(1)
        assert vals.min() >= val[s] - 1e-12
    with pytest.raises(ValueError, match="^weights: "):
        sgd.logistic_comparator(X, y, -w, 1.0)


def test_absolute_comparator_is_the_weighted_median_in_one_dimension():
    rng = np.random.default_rng(4)
    N = 21
    X = np.ones((1, N, 1))
    y = rng.uniform(-0.5, 0.5, (1, N))
    w = np.ones((1, N))
    theta, val = sgd.absolute_comparator(X, y, w, -1, 1)
    assert theta[0, 0] == pytest.approx(np.median(y), abs=1e-9)
    assert val[0] == pytest.approx(np.abs(y - np.median(y)).mean(), abs=1e-12)
    theta, _ = sgd.absolute_comparator(X, y + 5, w, -1, 1)  # the box binds
    assert theta[0, 0] == pytest.approx(1.0)


def test_absolute_comparator_beats_random_feasible_points():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((2, 40, 3))
    y = rng.standard_normal((2, 40))
    w = rng.integers(0, 4, (2, 40)).astype(float)
    theta, val = sgd.absolute_comparator(X, y, w, -1, 1)
    assert np.all(np.abs(theta) <= 1 + 1e-9)
    others = rng.uniform(-1, 1, (500, 3))
    for s in range(2):
        vals = (w[s] * np.abs(others @ X[s].T - y[s])).sum(1) / w[s].sum()
        assert vals.min() >= val[s] - 1e-9


# ---------------------------------------------------------------------------------------------
# slopes and plots
# ---------------------------------------------------------------------------------------------


def test_loglog_slope():
    x = np.array([1.0, 10, 100, 1000])
    assert sgd.loglog_slope(x, 3 * x**-0.5) == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="^y: expected values > 0"):
        sgd.loglog_slope(x, -x)
    with pytest.raises(ValueError, match="^y: expected the shape of x"):
        sgd.loglog_slope(x, x[:2])


def test_plot_helpers_draw_and_check_shapes():
    fig, ax = plt.subplots()
    T = np.array([10, 100, 1000])
    sgd.plot_regret_band(ax, T, np.ones((3, 4)) / np.sqrt(T)[:, None], label="runs", color="C0")
    sgd.plot_slope_guide(ax, T, 1.0, -0.5, label="slope")
    assert ax.get_xscale() == "log" and len(ax.lines) == 2
    with pytest.raises(ValueError, match="^regrets: "):
        sgd.plot_regret_band(ax, T, np.ones((2, 4)), label="bad", color="C1")
    fig2, ax2 = plt.subplots()
    sgd.plot_bound_parts(ax2, ["a", "b"], {"x": [1.0, 2.0], "y": [0.5, 0.1]})
    assert len(ax2.patches) == 4
    with pytest.raises(ValueError, match="has 1 values, expected 2"):
        sgd.plot_bound_parts(ax2, ["a", "b"], {"z": [1.0]})
    plt.close("all")


# ---------------------------------------------------------------------------------------------
# issue 15: the library cases, each with a clear error or the right value
# ---------------------------------------------------------------------------------------------


def test_ball_projection_near_the_float_range():
    np.testing.assert_allclose(sgd.project_ball([[3e200, 4e200]], 1.0), [[0.6, 0.8]], rtol=1e-15)
    np.testing.assert_allclose(sgd.project_ball([[3e-200, 4e-200]], 1.0), [[3e-200, 4e-200]], rtol=1e-15)
    np.testing.assert_allclose(sgd.project_ball([1e308, -1e308], 2.0), [np.sqrt(2), -np.sqrt(2)], rtol=1e-15)


def test_draw_counts_rejects_out_of_range_ids():
    with pytest.raises(ValueError, match=r"^idx: expected indices in \[0, 3\)"):
        sgd.draw_counts(np.array([[0, 3, 3], [1, 1, 1]]), 3)
    with pytest.raises(ValueError, match="^idx: "):
        sgd.draw_counts(np.array([[0, -1]]), 3)
    with pytest.raises(TypeError, match="^idx: "):
        sgd.draw_counts(np.array([[0.0, 1.0]]), 3)
    np.testing.assert_array_equal(sgd.draw_counts(np.array([[0, 2, 2], [1, 1, 1]]), 3), [[1, 0, 2], [0, 3, 0]])


def test_box_bounds_with_nan_are_rejected_and_infinite_ones_allowed():
    with pytest.raises(ValueError, match="^lo: .*NaN"):
        sgd.project_box([5, -5], [np.nan, 0], [1, 1])
    with pytest.raises(ValueError, match="^hi: .*NaN"):
        sgd.project_box([5, -5], [0, 0], [1, np.nan])
    np.testing.assert_array_equal(sgd.project_box([5, -5], [-np.inf, 0], [np.inf, 1]), [5, 0])


def test_overflowing_bounds_raise_value_errors_naming_the_arguments():
    with pytest.raises(ValueError, match="^D, G or lrs: .*overflows"):
        sgd.regret_bound(1e200, 1, [0.1])
    with pytest.raises(ValueError, match="overflows"):
        sgd.general_regret_bound(1, 1e200, [0.1])
    with pytest.raises(ValueError, match="^D, G or alpha: "):
        sgd.inv_sqrt_bound(1e200, 1, 10, 1.0)
    assert sgd.regret_bound(1e150, 1, [0.1]) == pytest.approx(1e300 / 0.2 + 0.05)


@pytest.mark.parametrize("x, y, name", [([1, 10, 100], [1, -0.3, 0.1], "y"), ([0, 1, 2], [1, 2, 3], "x"),
                                        ([1, 10, np.nan], [1, 2, 3], "x"), ([1, 1], [1, 2], "x")])
def test_loglog_slope_raises_on_non_positive_or_degenerate_input(x, y, name):
    with pytest.raises(ValueError, match=f"^{name}: "):
        sgd.loglog_slope(x, y)


def test_loglog_slope_agrees_with_polyfit_and_with_lora():
    from helpers import lora

    rng = np.random.default_rng(0)
    x = np.geomspace(1, 1e4, 9)
    y = 2 * x**-0.7 * np.exp(0.1 * rng.standard_normal(9))
    ref = np.polyfit(np.log(x), np.log(y), 1)[0]
    assert sgd.loglog_slope(x, y) == pytest.approx(ref, rel=1e-12)
    assert lora.loglog_slope(x, y) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("call", [
    lambda: sgd.regret_bound(1.0, 1.0, np.array([0.1 + 1j])),
    lambda: sgd.project_ball(np.array([1 + 1j, 2.0]), 1.0),
    lambda: sgd.project_box(np.array([1 + 1j]), -1, 1),
    lambda: sgd.logistic_loss_grad(np.ones((1, 2), complex), np.ones((1, 1, 2)), np.ones((1, 1))),
    lambda: sgd.loglog_slope([1, 2], np.array([1, 2 + 1j])),
    lambda: sgd.regret_bound(1 + 0j, 1.0, [0.1]),
])
def test_complex_input_is_rejected_not_cut_to_its_real_part(call):
    with pytest.raises(TypeError, match="complex"):
        call()


def test_flags_and_callables_are_checked():
    with pytest.raises(TypeError, match="^average: "):
        sgd.regret_bound(1.0, 1.0, [0.1], average="yes")
    g = np.ones((1, 3, 2))
    with pytest.raises(TypeError, match="^project: "):
        sgd.projected_sgd(sgd.linear_loss_grad, [g], np.zeros(2), np.ones(3), project="ball")
    with pytest.raises(TypeError, match="^keep_path: "):
        sgd.projected_sgd(sgd.linear_loss_grad, [g], np.zeros(2), np.ones(3), keep_path=None)


def test_module_exports_exactly_its_public_names():
    public = {n for n, v in vars(sgd).items() if not n.startswith("_") and getattr(v, "__module__", None) == "helpers.sgd"}
    assert public <= set(sgd.__all__)
    assert set(sgd.__all__) - public <= {"LossGrad", "MAX_STEPS"}
    for name in sgd.__all__:
        assert hasattr(sgd, name)


# ---------------------------------------------------------------------------------------------
# the "Beyond the post" helpers
# ---------------------------------------------------------------------------------------------


@FEW
@given(st.integers(0, 10**6), st.integers(2, 400))
def test_adagrad_norm_run_obeys_its_data_dependent_bound(seed, T):
    rng = np.random.default_rng(seed)
    S, dim, R = 3, 4, 1.5
    grads = sgd.project_ball(3 * rng.standard_normal((S, T, dim)), 2.0) * rng.uniform(0, 1, (S, T, 1))
    u = sgd.project_ball(2 * rng.standard_normal((S, dim)), R)
    run = sgd.adagrad_norm_sgd(sgd.linear_loss_grad, [grads], np.zeros(dim), 2 * R,
                               lambda v: sgd.project_ball(v, R), u)
    assert np.all(np.diff(run.lrs, axis=1) <= 0)
    assert np.all(run.average_regret <= sgd.adagrad_norm_bound(2 * R, run.grad_sq) * (1 + 1e-12) + 1e-15)
    # the bound is the realised (13) with D^2 in place of the distances, by the lemma sum a/sqrt(A) <= 2 sqrt(A)
    a = run.grad_sq
    assert np.all((a / np.sqrt(np.cumsum(a, axis=1))).sum(axis=1) <= 2 * np.sqrt(a.sum(axis=1)) * (1 + 1e-12))


def test_adagrad_norm_rates_by_hand():
    g = np.array([[[1.0], [0.0], [2.0]]])
    run = sgd.adagrad_norm_sgd(sgd.linear_loss_grad, [g], np.zeros(1), 2.0)
    np.testing.assert_allclose(run.lrs[0], [2 / np.sqrt(2), 2 / np.sqrt(2), 2 / np.sqrt(10)])
    np.testing.assert_allclose(sgd.adagrad_norm_bound(2.0, [1.0, 0.0, 4.0], average=False), np.sqrt(2) * 2 * np.sqrt(5))


def test_last_iterate_bound_formula():
    assert sgd.last_iterate_bound(2.0, 1.0, 100, 0.5) == pytest.approx((4 / 0.5 + 0.5) * (2 + math.log(100)) / 10)
    with pytest.raises(ValueError, match="^T: "):
        sgd.last_iterate_bound(2.0, 1.0, 1, 0.5)


def test_minibatch_second_moment_matches_enumeration():
    rng = np.random.default_rng(3)
    g = rng.standard_normal((5, 2))
    import itertools

    for B in (1, 2, 3):
        exact = np.mean([np.sum(g[list(c)].mean(axis=0) ** 2) for c in itertools.product(range(5), repeat=B)])
        assert sgd.minibatch_second_moment(g, B) == pytest.approx(exact, rel=1e-12)
    # scaled before squaring: no overflow for gradients near the float range
    assert sgd.minibatch_second_moment(1e150 * g, 2) == pytest.approx(1e300 * sgd.minibatch_second_moment(g, 2), rel=1e-12)


def test_sgdrun_validates_its_fields():
    z = np.zeros((1, 3))
    run = sgd.SGDRun(z, None, None, z, None, np.ones((1, 3)), np.zeros((1, 2)), None)
    assert run.T == 3
    with pytest.raises(ValueError, match="^grad_sq: "):
        sgd.SGDRun(z, None, None, np.zeros((1, 2)), None, np.ones((1, 3)), np.zeros((1, 2)), None)
    with pytest.raises(ValueError, match="^losses: "):
        sgd.SGDRun(np.full((1, 3), np.nan), None, None, z, None, np.ones((1, 3)), np.zeros((1, 2)), None)


def test_absolute_comparator_certificate_is_a_valid_duality_gap():
    rng = np.random.default_rng(5)
    X = sgd.project_ball(rng.standard_normal((3, 60, 4)), 1.0)
    y = X @ np.array([0.3, -0.2, 0.5, 0.9]) + 0.2 * rng.standard_t(2, (3, 60))  # the box binds in coordinate 4
    w = rng.integers(0, 3, (3, 60)).astype(float) + 0.1
    theta, val, gap = sgd.absolute_comparator(X, y, w, -0.6, 0.6, certify=True)
    assert np.all(gap >= 0) and np.all(gap < 1e-8)
    # every feasible point is at least value - gap: the certificate is a lower bound on min F
    pts = rng.uniform(-0.6, 0.6, (3, 2000, 4))
    F = (w[:, None, :] * np.abs(np.einsum("snd,spd->spn", X, pts) - y[:, None, :])).sum(axis=2) / w.sum(axis=1)[:, None]
    assert np.all(F.min(axis=1) >= val - gap - 1e-12)
    t2, v2 = sgd.absolute_comparator(X, y, w, -0.6, 0.6)
    np.testing.assert_array_equal(v2, val)
