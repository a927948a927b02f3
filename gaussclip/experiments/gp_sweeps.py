r"""Section 6.1 experiment: linear CLIP encoders trained on Gaussian-process samples.

One *run* (:func:`run`) draws N pairs (u, v) from the exact Gaussian of
:mod:`gaussclip.data.gp`, trains linear encoders :math:`G, H` with ``n_e`` rows by the two-sided
conditional loss with the inner tilting (unnormalized encoders, eq. 25) and measures how far the
learned conditional means are from the truth. The learned model tilts the data's marginals by
:math:`A = G^\top H` (eq. 40), so its conditional means are
:math:`E_\nu[u|v] = \mathcal C_{uu} A v` and :math:`E_\nu[v|u] = \mathcal C_{vv} A^\top u` (eq. 41).

Two reference levels separate the two sources of error (beyond the paper):

* the **population optimum**: Theorem 5.1's rank-``n_e`` minimizer for the true :math:`\mu`
  (zero error once ``n_e >= min(n_u, n_v)``, Corollary 5.2);
* the **empirical optimum**: the same closed form for the sample covariance of the N training
  pairs (Remark D.2) -- the best any optimizer can do with these samples.

A trained error above the empirical optimum is optimization error (too few steps, a batch too
small for the empirical loss L^N to approximate the population loss); the gap between the two
optima is sampling error. The encoders see centred data; errors are measured for the learned A
against the true means, so they isolate the parameters the theory is about.

Figures 8-10 (``paper_figures/fig08..fig10``) sweep ``n_e``, the batch size and N with
:class:`RunConfig` and :func:`run`; every sweep point is an independent job.
"""

from dataclasses import asdict, dataclass, replace

import numpy as np

from .._checks import integer
from ..data import gp
from ..errors import OptionError, RankError
from ..gaussian import JointGaussian
from ..minimizers import minimize
from ..summaries import conditional_mean_error, conditional_mean_errors
from ..train import fit_linear_encoders

SIDES = ("u", "v")  # "u": E[u|v], "v": E[v|u]


@dataclass(frozen=True)
class RunConfig:
    """One training run of the Section 6.1 experiment (defaults: the paper's settings)."""

    n_e: int = 5  # embedding dimension (rows of G and H)
    batch_size: int = 512  # pairs per minibatch of the empirical loss
    n_samples: int = 10_000  # N, training pairs
    epochs: int = 500  # passes over the N pairs (paper: 500)
    lr: float = 1e-4  # Adam step size (paper: 1e-4)
    schedule: str = "constant"  # "constant" (paper) or "cosine" decay to 0
    n_eval: int = 10_000  # fresh realizations for the averaged squared errors (paper: 10^4)
    seed: int = 0  # seeds the training pairs, the evaluation draws and the optimizer

    def __post_init__(self):
        integer(self.n_e, "n_e", 1, 10**4, error=RankError)
        integer(self.n_samples, "n_samples", 2, 10**8)
        integer(self.batch_size, "batch_size", 2, self.n_samples, hint=" (at most n_samples)")
        integer(self.n_eval, "n_eval", 1, 10**8)

    def with_steps(self, steps):
        """The same run with ``epochs`` chosen so that training takes at least ``steps`` Adam
        steps (full minibatches only), so sweeps over N or the batch size compare equal
        optimization budgets."""
        steps = integer(steps, "steps", 1, 10**9)
        per_epoch = self.n_samples // self.batch_size
        return replace(self, epochs=-(-steps // per_epoch))


def _seeds(seed):
    # independent streams: training pairs, evaluation draws, the fixed realization
    return [np.random.default_rng([seed, stream]) for stream in range(3)]


def run(config=RunConfig(), gp_config=None):
    """Train one pair of linear encoders and measure its conditional means against the truth.

    Parameters
    ----------
    config : RunConfig
    gp_config : gaussclip.data.gp.GPConfig, optional
        The data distribution (default: the paper's Section 6.1 values).

    Returns
    -------
    dict
        ``config``; ``error[model][side]``, the exact mean squared error
        (:func:`~gaussclip.summaries.conditional_mean_error`) for ``model`` in
        ``("trained", "empirical", "population")`` and ``side`` in ``("u", "v")``;
        ``error_mc[model][side]`` and ``error_mc_sem[model][side]``, the average over
        ``n_eval`` fresh realizations (as in the paper) and its standard error;
        ``realization``: one fixed draw ``u``, ``v`` with ``truth_u_given_v``,
        ``trained_u_given_v``, ``truth_v_given_u``, ``trained_v_given_u``; the final training
        ``loss``.
    """
    if not isinstance(config, RunConfig):
        raise OptionError(f"`config` must be a RunConfig; got {type(config).__name__}.")
    mu = gp.joint_uv(gp_config)
    data_rng, eval_rng, fixed_rng = _seeds(config.seed)
    u, v = mu.sample(config.n_samples, data_rng)
    encoders = fit_linear_encoders(
        u,
        v,
        config.n_e,
        loss="cond",
        tilting="inner",
        batch_size=config.batch_size,
        epochs=config.epochs,
        lr=config.lr,
        schedule=config.schedule,
        seed=config.seed,
        progress=False,
    )
    rank = min(config.n_e, mu.n_u, mu.n_v)
    pairs = np.hstack([u, v])
    empirical = JointGaussian(np.cov(pairs.T, bias=True), mu.n_u, mean=pairs.mean(axis=0))
    parameters = {
        "trained": encoders.A,
        "empirical": minimize(empirical, rank=rank).A,  # Remark D.2
        "population": minimize(mu, rank=rank).A,  # Theorem 5.1
    }
    eval_u, eval_v = mu.sample(config.n_eval, eval_rng)
    given = {"u": eval_v, "v": eval_u}
    error, error_mc, error_mc_sem = {}, {}, {}
    for model, A in parameters.items():
        error[model] = {side: conditional_mean_error(mu, side, A) for side in SIDES}
        samples = {side: conditional_mean_errors(mu, side, A, given[side]) for side in SIDES}
        error_mc[model] = {side: float(np.mean(samples[side])) for side in SIDES}
        error_mc_sem[model] = {
            side: float(np.std(samples[side], ddof=1) / np.sqrt(config.n_eval)) for side in SIDES
        }
    fixed_u, fixed_v = (x[0] for x in mu.sample(1, fixed_rng))
    A = parameters["trained"]
    realization = {
        "u": fixed_u,
        "v": fixed_v,
        "truth_u_given_v": mu.conditional_mean("u", fixed_v),
        "trained_u_given_v": mu.Cuu @ A @ (fixed_v - mu.mean_v) + mu.mean_u,  # eq. (41a)
        "truth_v_given_u": mu.conditional_mean("v", fixed_u),
        "trained_v_given_u": mu.Cvv @ A.T @ (fixed_u - mu.mean_u) + mu.mean_v,  # eq. (41b)
    }
    return {
        "config": asdict(config),
        "error": error,
        "error_mc": error_mc,
        "error_mc_sem": error_mc_sem,
        "realization": realization,
        "loss": float(encoders.history[-1]["loss"]) if encoders.history else float("nan"),
    }
