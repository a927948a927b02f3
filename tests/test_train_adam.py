"""Adam as init/update on parameter trees (gaussclip.train.adam), without fit."""

import autograd.numpy as anp
import numpy as np
from autograd import grad

from gaussclip.train import TrainConfig, adam, fit


def test_update_matches_the_textbook_algorithm():
    # Kingma & Ba, Algorithm 1, written out for one scalar parameter
    params = {"w": np.array([3.0]), "nest": [np.array([1.0, -2.0])]}
    state = adam.init(params)
    w, m, v = 3.0, 0.0, 0.0
    for t in range(1, 6):
        g = 2 * (w - 1.0)
        grads = {"w": np.array([g]), "nest": [np.zeros(2)]}
        params = adam.update(params, grads, state, lr=0.1)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w -= 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        assert np.isclose(params["w"][0], w, rtol=1e-12)
    assert state["step"] == 5
    assert np.array_equal(params["nest"][0], [1.0, -2.0])  # zero gradient: no move


def test_a_hand_written_loop_reproduces_fit_bit_for_bit():
    x = np.linspace(-1, 1, 8)[:, None]
    cfg = TrainConfig(epochs=2, batch_size=4, lr=0.05, seed=3, progress=False)

    def objective(p, xb):
        return anp.mean((p["w"] * xb - 2.0 * xb) ** 2)

    result = fit(objective, {"w": np.zeros(1)}, (x,), cfg)
    params, state, rng = {"w": np.zeros(1)}, adam.init({"w": np.zeros(1)}), np.random.default_rng(3)
    for _ in range(2):
        order = rng.permutation(8)
        for s in range(2):
            g = grad(objective)(params, x[order[4 * s : 4 * s + 4]])
            params = adam.update(params, g, state, lr=0.05)
    assert np.array_equal(params["w"], result.params["w"])
    assert state["step"] == result.adam["step"] == 4
