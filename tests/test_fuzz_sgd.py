"""Bad-input fuzzing of helpers/sgd.py (tests/fuzzing.py): one valid, tiny call per public
function, class and method; every argument is then replaced by each bad value in turn."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from helpers import sgd  # noqa: E402
from tests.fuzzing import Call, fuzz  # noqa: E402

NOT_CALLABLE = {"LossGrad", "MAX_STEPS"}  # a type alias and a constant

_X = sgd.project_ball(np.random.default_rng(0).standard_normal((2, 5, 3)), 1.0)
_Y = np.array([[1.0, -1, 1, -1, 1], [-1.0, 1, 1, -1, -1]])
_W = np.ones((2, 5))
_IDX = np.array([[[0, 1], [2, 3], [4, 0]], [[1, 1], [0, 2], [3, 4]]])  # (S=2, T=3, B=2)
_G = np.ones((1, 3, 2))
_AX = plt.subplots()[1]
_RUN = sgd.projected_sgd(sgd.linear_loss_grad, [_G], np.zeros(2), np.ones(3), comparator=np.zeros(2))

CALLS = {
    "regret_bound": Call(sgd.regret_bound, 2.0, 1.0, [0.5, 0.4, 0.1]),
    "general_regret_bound": Call(sgd.general_regret_bound, 2.0, 1.0, [0.1, 0.5, 0.2]),
    "constant_schedule": Call(sgd.constant_schedule, 5, 0.1),
    "inv_sqrt_schedule": Call(sgd.inv_sqrt_schedule, 5, 0.5),
    "linear_decay_schedule": Call(sgd.linear_decay_schedule, 5, 0.5),
    "warmup_schedule": Call(sgd.warmup_schedule, 5, 0.5),
    "optimal_eta": Call(sgd.optimal_eta, 2.0, 1.0, 100),
    "optimal_alpha": Call(sgd.optimal_alpha, 2.0, 1.0),
    "constant_bound": Call(sgd.constant_bound, 2.0, 1.0, 100),
    "inv_sqrt_bound": Call(sgd.inv_sqrt_bound, 2.0, 1.0, 100, 0.7),
    "sum_inv_sqrt": Call(sgd.sum_inv_sqrt, 10),
    "adagrad_norm_bound": Call(sgd.adagrad_norm_bound, 2.0, [0.1, 0.2, 0.0]),
    "last_iterate_bound": Call(sgd.last_iterate_bound, 2.0, 1.0, 100, 0.5),
    "minibatch_second_moment": Call(sgd.minibatch_second_moment, np.ones((4, 2)), 3),
    "project_ball": Call(sgd.project_ball, [[3.0, 4.0], [0.1, 0.0]], 1.0, center=[0.0, 0.5]),
    "project_box": Call(sgd.project_box, [5.0, -5.0], [-1.0, 0.0], [1.0, 1.0]),
    "logistic_loss_grad": Call(sgd.logistic_loss_grad, np.zeros((2, 3)), _X[:, :2], _Y[:, :2]),
    "absolute_loss_grad": Call(sgd.absolute_loss_grad, np.zeros((2, 3)), _X[:, :2], _Y[:, :2]),
    "linear_loss_grad": Call(sgd.linear_loss_grad, np.zeros((1, 2)), np.ones((1, 2))),
    "on_dataset": Call(sgd.on_dataset, sgd.logistic_loss_grad, _X, _Y, datasets=np.array([0, 1, 0])),
    "on_dataset.f": Call(lambda theta, idx: sgd.on_dataset(sgd.absolute_loss_grad, _X, _Y)(theta, idx),
                         np.zeros((2, 3)), np.array([[0, 1], [2, 3]])),
    "draw_counts": Call(sgd.draw_counts, _IDX, 5),
    "SGDRun": Call(sgd.SGDRun, np.zeros((1, 3)), np.zeros((1, 3)), None, np.ones((1, 3)), np.ones((1, 4)),
                   np.ones((1, 3)), np.zeros((1, 2)), None),
    "SGDRun.average_regret": Call(lambda: _RUN.average_regret),
    "SGDRun.step_bounds": Call(lambda: _RUN.step_bounds),
    "SGDRun.trajectory_bound": Call(lambda: _RUN.trajectory_bound()),
    "SGDRun.T": Call(lambda: _RUN.T),
    # loss_grad: a callable; the bad values are not callables, so each must be rejected
    "projected_sgd": Call(sgd.projected_sgd, sgd.linear_loss_grad, [_G], np.zeros(2), np.ones(3),
                          lambda v: sgd.project_ball(v, 1.0), np.zeros(2), log_post_update=True),
    "adagrad_norm_sgd": Call(sgd.adagrad_norm_sgd, sgd.linear_loss_grad, [_G], np.zeros(2), 2.0,
                             lambda v: sgd.project_ball(v, 1.0), np.zeros(2)),
    "logistic_comparator": Call(sgd.logistic_comparator, _X, _Y, _W, 1.0, tol=1e-6, max_iters=200),
    "absolute_comparator": Call(sgd.absolute_comparator, _X, _Y, _W, -1.0, 1.0),
    "orthogonal_instance": Call(sgd.orthogonal_instance, 4, D=2.0, G=1.0),
    "loglog_slope": Call(sgd.loglog_slope, [1.0, 10.0, 100.0], [1.0, 0.3, 0.1]),
    # label/color/marker/linestyle: strings or None; a number is rejected, a finite result is also fine
    "plot_regret_band": Call(sgd.plot_regret_band, _AX, [10.0, 100.0], np.ones((2, 3)), label="runs"),
    "plot_slope_guide": Call(sgd.plot_slope_guide, _AX, [10.0, 100.0], 1.0, -0.5, label="slope"),
    "plot_bound_parts": Call(sgd.plot_bound_parts, _AX, ["a", "b"], {"x": [1.0, 2.0]}),
}


def test_calls_cover_the_public_names():
    covered = {name.split(".")[0] for name in CALLS}
    assert covered == set(sgd.__all__) - NOT_CALLABLE


def test_fuzz_sgd():
    total, defects = fuzz(CALLS)
    print(f"fuzz: {total} calls over {len(CALLS)} functions and methods")
    assert not defects, "\n".join(defects)
