r"""Transformer encoder for sequences, as in Section 6.3:
:math:`g_v(v) = P\circ A_M\circ\cdots\circ A_1\circ L(v)`.

* :math:`L`: a lifting layer, linear on each token plus a learned position embedding. With
  ``patch = p > 1`` each token is p consecutive points of the sequence (flattened), so a
  1000-point trajectory becomes 1000/p tokens: the affordable choice on a CPU. ``patch = 1``
  is the paper's one-point-per-token encoder (:meth:`TransformerConfig.paper`).
* :math:`A_k`: residual attention blocks in the pre-norm form
  :math:`x \leftarrow x + \mathrm{MHA}(\mathrm{LN}(x))`,
  :math:`x \leftarrow x + \mathrm{MLP}(\mathrm{LN}(x))` (GELU MLP);
* :math:`P`: pooling of the tokens (``pooling="last"``: the last token, the default;
  ``"mean"``: the average of all tokens), a final layer norm and a linear projection to
  :math:`n_e`.

With ``causal=True`` (the text-encoder convention) token t attends to tokens up to t, so only
the last token sees the whole sequence, which is the token the pooling keeps.
"""

from dataclasses import asdict, dataclass, replace

import autograd.numpy as anp
import numpy as np

from .._validation import FloatDtype, InstanceOf, Optional, RealArray, validate_params
from ..errors import OptionError, ShapeError
from .ops import dense, layer_norm, layer_norm_dense, self_attention

POOLINGS = ("last", "mean")


@dataclass(frozen=True)
class TransformerConfig:
    """Shape of the encoder; defaults are a CPU-sized Lagrangian encoder (Section 6.3)."""

    n_in: int = 2  # features per sequence point (a 2-D trajectory position)
    seq_len: int = 1000  # points per sequence (J_v = 1000 in Section 6.3)
    patch: int = 10  # consecutive points per token; 1 = one point per token (the paper)
    d_model: int = 64  # token width d'
    n_heads: int = 4  # attention heads; d_model must be divisible by it
    n_blocks: int = 2  # residual attention blocks M (the paper uses 12)
    d_mlp: int = 256  # hidden width of each block's MLP
    n_out: int = 98  # embedding dimension n_e (2K = 98 in Section 6.3)
    causal: bool = True  # token t attends to tokens <= t; pooling keeps the last token
    pooling: str = "last"  # "last": the last token; "mean": the average over tokens

    def __post_init__(self):
        if self.pooling not in POOLINGS:
            raise OptionError(f"`pooling` must be one of {POOLINGS}; got {self.pooling!r}.")
        if self.seq_len % self.patch:
            raise ShapeError(
                f"`patch` must divide `seq_len`; got patch={self.patch}, seq_len={self.seq_len}. "
                f"Pick a divisor of {self.seq_len}."
            )
        if self.d_model % self.n_heads:
            raise ShapeError(
                f"`d_model` must be divisible by `n_heads`; got {self.d_model} and {self.n_heads}."
            )

    @property
    def n_tokens(self):
        return self.seq_len // self.patch

    @classmethod
    def paper(cls, **overrides):
        """The paper's encoder: one point per token, M = 12 blocks (Section 6.3).

        Attention is computed by a streaming kernel that keeps no batch x heads x 1000 x 1000
        weights (:func:`gaussclip.nn.ops.multi_head_attention`), so memory grows linearly with
        the sequence; the time does not: ``benchmarks/bench_trainer.py`` projects an epoch of
        the paper's setting, which is why the CPU default groups points into patches.
        """
        return replace(cls(patch=1, n_blocks=12), **overrides)

    def to_dict(self):
        return asdict(self)


def _layer(rng, n_in, n_out, std, dtype):
    return {
        "W": (std * rng.standard_normal((n_in, n_out))).astype(dtype),
        "b": np.zeros(n_out, dtype=dtype),
    }


def _norm(d, dtype):
    return {"g": np.ones(d, dtype=dtype), "b": np.zeros(d, dtype=dtype)}


@validate_params(
    rng=InstanceOf((np.random.Generator,), hint="Pass e.g. np.random.default_rng(0)."),
    config=Optional(InstanceOf((TransformerConfig,))),
    dtype=FloatDtype(),
)
def init(rng, config=None, *, dtype=np.float32):
    r"""Parameters for ``config`` (default :class:`TransformerConfig`).

    Weights are :math:`N(0, 0.02^2)`; the two output projections of each block are scaled by
    :math:`1/\sqrt{2M}` so the residual stream keeps its size with depth (GPT-2's scheme).

    Examples
    --------
    >>> import numpy as np
    >>> cfg = TransformerConfig(seq_len=12, patch=3, d_model=8, n_heads=2, n_blocks=1,
    ...                         d_mlp=16, n_out=5)
    >>> params = init(np.random.default_rng(0), cfg)
    >>> apply(params, np.zeros((4, 12, 2), dtype=np.float32), cfg).shape
    (4, 5)
    """
    c = TransformerConfig() if config is None else config
    d, std = c.d_model, 0.02
    resid = std / np.sqrt(2 * c.n_blocks)
    blocks = [
        {
            "ln1": _norm(d, dtype),
            "q": _layer(rng, d, d, std, dtype),
            "k": _layer(rng, d, d, std, dtype),
            "v": _layer(rng, d, d, std, dtype),
            "proj": _layer(rng, d, d, resid, dtype),
            "ln2": _norm(d, dtype),
            "fc": _layer(rng, d, c.d_mlp, std, dtype),
            "fc_out": _layer(rng, c.d_mlp, d, resid, dtype),
        }
        for _ in range(c.n_blocks)
    ]
    return {
        "lift": _layer(rng, c.patch * c.n_in, d, 1.0 / np.sqrt(c.patch * c.n_in), dtype),
        "pos": (std * rng.standard_normal((c.n_tokens, d))).astype(dtype),
        "blocks": blocks,
        "ln_f": _norm(d, dtype),
        "head": _layer(rng, d, c.n_out, 1.0 / np.sqrt(d), dtype),
    }


def block(p, x, n_heads, causal):
    """One residual attention block (pre-norm) on tokens ``x`` (B, T, d)."""
    # the three projections as one dense layer of width 3d (one matrix product each way), fused
    # with the layer norm before it (and the MLP's with its layer norm and GELU)
    W = anp.concatenate([p[n]["W"] for n in ("q", "k", "v")], axis=1)
    b = anp.concatenate([p[n]["b"] for n in ("q", "k", "v")])
    qkv = layer_norm_dense(x, p["ln1"]["g"], p["ln1"]["b"], W, b)
    a = self_attention(qkv, n_heads, causal)
    x = x + dense(a, p["proj"]["W"], p["proj"]["b"])
    h = layer_norm_dense(x, p["ln2"]["g"], p["ln2"]["b"], p["fc"]["W"], p["fc"]["b"], gelu=True)
    return x + dense(h, p["fc_out"]["W"], p["fc_out"]["b"])


@validate_params(x=RealArray(ndim=3), config=Optional(InstanceOf((TransformerConfig,))))
def apply(params, x, config=None):
    """Embeddings (B, n_out) of sequences ``x`` of shape (B, seq_len, n_in)."""
    c = TransformerConfig() if config is None else config
    if np.shape(x)[1:] != (c.seq_len, c.n_in):
        raise ShapeError(
            f"`x` must have shape (B, {c.seq_len}, {c.n_in}) for this config; got {np.shape(x)}."
        )
    tokens = anp.reshape(x, (np.shape(x)[0], c.n_tokens, c.patch * c.n_in))
    h = dense(tokens, params["lift"]["W"], params["lift"]["b"]) + params["pos"]
    for p in params["blocks"]:
        h = block(p, h, c.n_heads, c.causal)
    pooled = h[:, -1, :] if c.pooling == "last" else anp.mean(h, axis=1)
    pooled = layer_norm(pooled, params["ln_f"]["g"], params["ln_f"]["b"])
    return dense(pooled, params["head"]["W"], params["head"]["b"])
