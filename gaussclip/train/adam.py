r"""Adam (Kingma & Ba 2015) as a pure ``init`` / ``update`` pair on parameter trees.

The state is ``{"m": [...], "v": [...], "step": int}``: the first and second moments of every
leaf (in :func:`~gaussclip.train.trees.tree_leaves` order) and the number of updates made. One
update with gradient :math:`g` and step size :math:`\eta` at step :math:`t` is

.. math::
    m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
    \theta \leftarrow \theta - \eta_t\, m / (\sqrt v + \epsilon_t),

with the bias corrections folded into :math:`\eta_t = \eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)` and
:math:`\epsilon_t = \epsilon\sqrt{1-\beta_2^t}` (their Section 2). The arithmetic runs in place in
the parameters' dtype (float32 stays float32: the scalars are Python floats), in a fixed order,
so a resumed run repeats an uninterrupted one bit for bit.

Usable without :func:`~gaussclip.train.fit`::

    state = adam.init(params)
    for batch in batches:
        grads = autograd.grad(loss)(params, *batch)
        params = adam.update(params, grads, state, lr=1e-3)
"""

import math

import numpy as np

from .trees import tree_leaves, tree_unflatten

__all__ = ["init", "update", "update_leaves"]


def init(params):
    """Zero moments for every leaf of ``params`` and ``step = 0``."""
    leaves = [np.asarray(a) for _, a in tree_leaves(params)]
    return {
        "m": [np.zeros_like(a) for a in leaves],
        "v": [np.zeros_like(a) for a in leaves],
        "step": 0,
    }


def update_leaves(arrays, grads, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step on a flat list of parameter arrays, **in place** (``arrays`` and the
    moments of ``state`` are modified, ``state["step"]`` is incremented)."""
    state["step"] += 1
    t = state["step"]
    b1, b2 = beta1, beta2
    step_size = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
    eps_t = eps * math.sqrt(1.0 - b2**t)
    for a, g, mi, vi in zip(arrays, grads, state["m"], state["v"], strict=True):
        mi *= b1
        mi += (1.0 - b1) * g
        vi *= b2
        vi += (1.0 - b2) * (g * g)
        a -= step_size * mi / (np.sqrt(vi) + eps_t)
    return arrays


def update(params, grads, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step on a parameter tree; returns the updated tree (new arrays, ``params`` is
    not modified) and advances ``state`` in place."""
    arrays = [np.array(a, copy=True) for _, a in tree_leaves(params)]
    update_leaves(
        arrays,
        [g for _, g in tree_leaves(grads)],
        state,
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
    )
    return tree_unflatten(params, arrays)
