r"""The linear encoders of Sections 5 and 6.1 trained on samples: :func:`fit_linear_encoders`.

:math:`g_u(u) = G(u - m_u)`, :math:`g_v(v) = H(v - m_v)` are trained by :func:`~gaussclip.train.fit`
on a contrastive loss and returned as :class:`LinearEncoders` with G, H in the exact engine's
convention (``A = G^T H``, eq. 38), so a trained model can be compared with
:func:`gaussclip.minimize`.
"""

import os
from dataclasses import dataclass

import numpy as np

from .. import losses
from .._checks import WeightsPair
from .._validation import (
    Array,
    Choice,
    FloatDtype,
    InstanceOf,
    Integer,
    Optional,
    Real,
    validate_params,
)
from ..errors import OptionError, RankError, ShapeError
from ..nn import linear
from ..similarity import TEMPERATURE
from .loop import CONFIG_CONSTRAINTS, TrainConfig, fit

_TILTING_SIMILARITY = {
    "inner": "inner",
    "quadratic": "neg_half_sq_distance",
    "cosine": "cosine",
}


@dataclass
class LinearEncoders:
    r"""Linear encoders fitted by :func:`fit_linear_encoders`.

    :math:`g_u(u) = G(u - m_u)`, :math:`g_v(v) = H(v - m_v)` with the sample means
    ``mean_u``, ``mean_v`` (the engine's centred convention). ``A``, ``B``, ``C`` are
    :math:`G^\top H`, :math:`G^\top G`, :math:`H^\top H`.
    """

    G: np.ndarray
    H: np.ndarray
    mean_u: np.ndarray
    mean_v: np.ndarray
    history: list
    loss: str
    tilting: str
    weights: tuple
    config: TrainConfig

    @property
    def A(self):
        return self.G.T @ self.H

    @property
    def B(self):
        return self.G.T @ self.G

    @property
    def C(self):
        return self.H.T @ self.H

    def encode_u(self, u):
        return (np.asarray(u) - self.mean_u) @ self.G.T

    def encode_v(self, v):
        return (np.asarray(v) - self.mean_v) @ self.H.T


@validate_params(
    u=Array(ndim=2),
    v=Array(ndim=2),
    n_e=Integer(1, 10**6, error=RankError),
    loss=Choice(("cond", "joint")),
    tilting=Choice(tuple(_TILTING_SIMILARITY)),
    weights=WeightsPair(),
    batch_size=CONFIG_CONSTRAINTS["batch_size"],
    epochs=CONFIG_CONSTRAINTS["epochs"],
    lr=CONFIG_CONSTRAINTS["lr"],
    seed=CONFIG_CONSTRAINTS["seed"],
    temperature=TEMPERATURE,
    schedule=CONFIG_CONSTRAINTS["schedule"],
    init_scale=Real(low=0.0),
    progress=CONFIG_CONSTRAINTS["progress"],
    checkpoint=Optional(InstanceOf((str, os.PathLike))),
    resume=InstanceOf((bool, np.bool_)),
    dtype=FloatDtype(),
)
def fit_linear_encoders(
    u,
    v,
    n_e,
    *,
    loss="cond",
    tilting="inner",
    weights=(1.0, 1.0),
    batch_size=512,
    epochs=500,
    lr=1e-4,
    seed=0,
    temperature=1.0,
    schedule="constant",
    init_scale=0.1,
    progress=None,
    checkpoint=None,
    resume=False,
    dtype=np.float32,
):
    r"""Train linear encoders :math:`g_u = G(u - m_u)`, :math:`g_v = H(v - m_v)` on samples.

    The data are centred by their sample means; each Adam step evaluates the empirical loss
    on a minibatch of ``batch_size`` pairs: :func:`gaussclip.losses.cond_loss` with
    ``weights`` or :func:`gaussclip.losses.joint_loss_matrix` (off-diagonal negatives), with
    the similarity of ``tilting`` (inner: eq. 25, quadratic: eq. 26, cosine: eq. 2 with
    ``temperature``). Training runs in ``dtype`` (float32 by default, for speed: about 4 ms
    per step of 512 pairs on one core); the returned G and H are float64.

    Parameters
    ----------
    u : (N, n_u) array_like
    v : (N, n_v) array_like
    n_e : int
        Embedding dimension (rows of G and H); may exceed min(n_u, n_v).
    loss : {"cond", "joint"}
    tilting : {"inner", "quadratic", "cosine"}
    weights : (float, float)
        :math:`(\lambda_u, \lambda_v)` of the conditional loss.
    batch_size, epochs, lr, seed : training settings (:class:`TrainConfig`); ``seed`` also
        draws the initial G, H (entries :math:`N(0, s^2/n)`, s = ``init_scale``).
    temperature : float
        Divides the similarity.
    schedule : {"constant", "cosine"}
    progress : bool or None
    checkpoint, resume : see :func:`fit`.
    dtype : {numpy.float32, numpy.float64}

    Returns
    -------
    LinearEncoders
        With ``.G`` (n_e, n_u), ``.H`` (n_e, n_v) and ``.history``.

    Examples
    --------
    >>> import numpy as np, gaussclip as gc
    >>> mu = gc.JointGaussian([[1.0, 0.6], [0.6, 1.0]], n_u=1)
    >>> u, v = mu.sample(2000, np.random.default_rng(0))
    >>> enc = gc.fit_linear_encoders(u, v, 1, epochs=30, lr=1e-2, batch_size=500,
    ...                              progress=False)
    >>> enc.A.shape
    (1, 1)
    """
    if loss == "joint" and weights != (1.0, 1.0):
        raise OptionError(
            f"`weights` apply to loss='cond' only; got {weights} with loss='joint'. Drop them."
        )
    if len(u) != len(v):
        raise ShapeError(f"`u` and `v` must have the same number of rows; got {len(u)}, {len(v)}.")
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        schedule=schedule,
        progress=progress,
    )
    mean_u, mean_v = u.mean(axis=0), v.mean(axis=0)  # float64 means, then cast
    init_rng = np.random.default_rng([seed, 1])
    params = {
        "u": linear.init(init_rng, u.shape[1], n_e, scale=init_scale / np.sqrt(u.shape[1]),
                         dtype=dtype),
        "v": linear.init(init_rng, v.shape[1], n_e, scale=init_scale / np.sqrt(v.shape[1]),
                         dtype=dtype),
    }  # fmt: skip
    objective = losses.contrastive_objective(
        linear.apply,
        linear.apply,
        loss=loss,
        similarity=_TILTING_SIMILARITY[tilting],
        weights=weights if loss == "cond" else (1.0, 1.0),
        temperature=temperature,
    )
    result = fit(
        objective,
        params,
        ((u - mean_u).astype(dtype), (v - mean_v).astype(dtype)),
        config,
        checkpoint=checkpoint,
        resume=resume,
    )
    return LinearEncoders(
        G=result.params["u"]["W"].astype(np.float64),
        H=result.params["v"]["W"].astype(np.float64),
        mean_u=mean_u,
        mean_v=mean_v,
        history=result.history,
        loss=loss,
        tilting=tilting,
        weights=weights,
        config=config,
    )
