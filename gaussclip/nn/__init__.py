"""Encoders as ``init(rng, ...) -> params`` / ``apply(params, x)`` pairs (autograd only).

* :mod:`~gaussclip.nn.linear`: :math:`g(x) = Wx` (+ b), the linear encoders of eq. (38);
* :mod:`~gaussclip.nn.mlp`: fully connected ReLU network;
* :mod:`~gaussclip.nn.lenet`: LeNet-5 (LeCun et al. 1998) for 28 x 28 images;
* :mod:`~gaussclip.nn.transformer`: lifting, residual attention blocks, last-token (or mean)
  pooling and projection (Section 6.3), with optional patch tokens.

Parameters are plain dicts and lists of arrays, so :func:`gaussclip.train.fit` (Adam,
checkpoints) handles any of them. Heavy layers are primitives with hand-written VJPs
(:mod:`~gaussclip.nn.ops`). Models default to float32 (the trainer's dtype; the exact engine
works in float64); pass ``dtype=np.float64`` for gradient checks.
"""

from . import lenet, linear, mlp, ops, transformer

__all__ = ["lenet", "linear", "mlp", "ops", "transformer"]
