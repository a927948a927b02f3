r"""Section 6.2 experiment: MNIST classification as a one-sided contrastive loss.

Images u are encoded by LeNet-5, :math:`g_u(u) \in \mathbb R^{10}` (unnormalized), labels v by
their one-hot vector :math:`g_v(v) = e_v`; the similarity is the inner product, so
:math:`\langle g_u(u), e_v\rangle` is the logit of class v. Three conditional losses
:math:`L_{cond}` are trained (:func:`train`):

======================  ===================  ==================================================
gaussclip weights       the paper's name     what the loss matches
======================  ===================  ==================================================
``(0, 2)``              ``(2, 0)``           :math:`\nu_{v|u}`, labels given an image: the
                                             cross-entropy classifier (Proposition 6.1)
``(2, 0)``              ``(0, 2)``           :math:`\nu_{u|v}`, images given a label
``(1, 1)``              ``(1, 1)``           both (CLIP)
======================  ===================  ==================================================

gaussclip's weights follow DESIGN.md, ``(lambda_u, lambda_v)`` with ``(2, 0)`` matching u|v;
Section 6.2 of the paper names the cross-entropy loss (2, 0) (see docs/ERRATA.md). On a batch,
the v|u loss equals the cross-entropy whose logits are shifted by the log label counts of the
batch, minus log N (:func:`proposition_6_1_gap` checks it on real data).

:func:`evaluate` then measures what each trained model does as a classifier (Algorithm 2), as
a generator of images given a label (sampling :math:`\nu^N_{u|v}` over the test set, eq. 28,
with the effective sample size of its weights: the mode collapse of Figure 12), as a
label-to-image retriever, and after fine-tuning (G, F) by :math:`L^K_{fine}` (eq. 34,
Section 4.2) on half of the test set, scored on the other half.

Runs are checkpointed every epoch under the cache folder and resume when interrupted; a finished
run is loaded, not retrained (Figures 11 and 12 share them).
"""

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import logsumexp

from .. import losses, retrieval
from .._checks import choice, integer
from ..data import mnist
from ..errors import OptionError
from ..io import cache_dir
from ..nn import lenet
from ..train import TrainConfig, fit

N_CLASSES = 10
#: The three losses, in gaussclip's weights (see the module docstring for the paper's names).
WEIGHTS = ((0.0, 2.0), (2.0, 0.0), (1.0, 1.0))
PAPER_NAMES = {(0.0, 2.0): "(2,0)", (2.0, 0.0): "(0,2)", (1.0, 1.0): "(1,1)"}
DESCRIPTIONS = {
    (0.0, 2.0): "labels given image (cross-entropy)",
    (2.0, 0.0): "images given label",
    (1.0, 1.0): "both conditionals (CLIP)",
}
#: Embeddings are evaluated in chunks of this many images (memory of the im2col buffers).
EVAL_CHUNK = 2000
RECALL_KS = (1, 10, 100)


@dataclass(frozen=True)
class MnistConfig:
    """Training settings (defaults: the paper's, Section 6.2)."""

    epochs: int = 300  # passes over the training images (paper: 300)
    batch_size: int = 512  # pairs per minibatch (paper: 512)
    lr: float = 1e-4  # Adam step size (paper: 1e-4)
    schedule: str = "constant"  # "constant" (paper) or "cosine" decay to 0
    n_train: int = 60_000  # training images used (the first n_train)
    n_test: int = 10_000  # test images used (the first n_test; N_test of Figure 12)
    seed: int = 0  # initial LeNet weights and minibatch order
    synthetic: bool = False  # synthetic digits instead of MNIST (smoke tests only)

    def __post_init__(self):
        integer(self.epochs, "epochs", 1, 10**6)
        integer(self.n_train, "n_train", 2, 60_000)
        integer(self.n_test, "n_test", 20, 10_000)
        integer(self.batch_size, "batch_size", 2, self.n_train, hint=" (at most n_train)")
        choice(self.schedule, "schedule", ("constant", "cosine"))


#: ``full`` = the paper; ``quick`` = ``make figures`` (about 2.5 minutes for the three losses on
#: 2 cores, >= 98% test accuracy); ``tiny`` = the smoke test, on synthetic digits.
PRESETS = {
    "full": MnistConfig(),
    "quick": MnistConfig(epochs=5, lr=2e-3, schedule="cosine"),
    "tiny": MnistConfig(
        epochs=2, batch_size=64, lr=2e-3, schedule="cosine", n_train=640, n_test=200,
        synthetic=True,
    ),
}  # fmt: skip


def preset(mode):
    """The :class:`MnistConfig` of a figure mode (``"tiny"``, ``"quick"`` or ``"full"``)."""
    return PRESETS[choice(mode, "mode", tuple(PRESETS))]


def load_data(config):
    """``(train_images, train_labels, test_images, test_labels)`` for ``config``."""
    if config.synthetic:
        rng = np.random.default_rng([config.seed, 99])
        train = mnist.synthetic(config.n_train, rng)
        test = mnist.synthetic(config.n_test, rng)
    else:
        train, test = mnist.load("train"), mnist.load("test")
    return (
        train[0][: config.n_train],
        train[1][: config.n_train],
        test[0][: config.n_test],
        test[1][: config.n_test],
    )


def _weights(weights):
    weights = tuple(float(w) for w in weights)
    if weights not in WEIGHTS:
        raise OptionError(f"`weights` must be one of {WEIGHTS}; got {weights}.")
    return weights


def _run_path(config, weights):
    key = json.dumps({"config": asdict(config), "weights": weights}, sort_keys=True)
    tag = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir("mnist_runs") / f"lenet_{weights[0]:g}_{weights[1]:g}_{tag}.npz"


def objective(weights):
    """:math:`L_{cond}` with ``weights`` for LeNet images against one-hot labels (inner
    product similarity, temperature 1)."""
    return losses.contrastive_objective(
        lenet.apply, None, loss="cond", similarity="inner", weights=_weights(weights)
    )


def train(config, weights, *, progress=None, callbacks=()):
    """Train (or load, or resume) LeNet-5 with the conditional loss of ``weights``.

    ``callbacks`` are passed to :func:`gaussclip.train.fit` (e.g. to stop early).

    Returns
    -------
    TrainResult
        ``params["u"]`` holds the LeNet parameters; ``history`` one record per epoch.
    """
    weights = _weights(weights)
    images, labels, _, _ = load_data(config)
    targets = losses.one_hot(labels, N_CLASSES)
    train_config = TrainConfig.from_run(config, progress=progress)
    params = {"u": lenet.init(np.random.default_rng([config.seed, 1])), "v": {}}
    return fit(
        objective(weights),
        params,
        (images, targets),
        train_config,
        checkpoint=_run_path(config, weights),
        resume=True,
        callbacks=callbacks,
    )


def embed(params, images):
    """LeNet outputs (logits) of ``images`` (N, 28, 28), float64, in chunks."""
    chunks = [
        lenet.apply(params, images[i : i + EVAL_CHUNK]) for i in range(0, len(images), EVAL_CHUNK)
    ]
    return np.concatenate(chunks).astype(np.float64)


def proposition_6_1_gap(logits, labels):
    """The v|u conditional loss on one batch against the cross-entropy it should equal.

    With :math:`S_{ij} = \\ell_{i, y_j}` (logit of image i for the label of pair j), the loss
    with gaussclip weights (0, 2) is
    :math:`\\frac1N\\sum_i [\\log\\sum_k n_k e^{\\ell_{ik}} - \\ell_{i y_i}] - \\log N`, the
    cross-entropy of logits shifted by the log label counts :math:`n_k` of the batch.

    Returns
    -------
    dict
        ``cond_loss``, ``shifted_cross_entropy`` (minus log N), ``plain_cross_entropy`` and
        ``gap = |cond_loss - shifted_cross_entropy|``.
    """
    logits = np.asarray(logits, dtype=np.float64)
    n = len(logits)
    targets = losses.one_hot(labels, N_CLASSES, dtype=np.float64)
    cond = float(losses.cond_loss(logits @ targets.T, (0.0, 2.0)))
    counts = np.bincount(labels, minlength=N_CLASSES)
    present = counts > 0
    true = logits[np.arange(n), labels]
    shifted = logsumexp(logits[:, present] + np.log(counts[present]), axis=1) - true
    plain = logsumexp(logits, axis=1) - true
    shifted_ce = float(np.mean(shifted) - np.log(n))
    return {
        "cond_loss": cond,
        "shifted_cross_entropy": shifted_ce,
        "plain_cross_entropy": float(np.mean(plain)),
        "gap": abs(cond - shifted_ce),
    }


def effective_sample_size(weights):
    """:math:`1/\\sum_i w_i^2` of normalized weights: how many images a weighted empirical
    measure effectively spreads over (N for uniform weights, 1 for a point mass)."""
    weights = np.asarray(weights, dtype=np.float64)
    return float(1.0 / np.sum(weights**2))


def evaluate(config, weights, params, *, n_draws=16, sample_label=7, seed=0):
    """Everything Figures 11-12 and their JSON report for one trained model.

    Returns
    -------
    dict
        ``accuracy`` (test, Algorithm 2 with a uniform prior); ``probabilities`` (n_test, 10);
        ``draws`` (n_draws test indices sampled from :math:`\\nu^N_{u|v}` for
        ``v = sample_label``), ``distinct_draws``; ``ess`` per digit (effective sample size of
        the weights of :math:`\\nu^N_{u|v}` over the test set); ``label_to_image`` precision of
        the top K images retrieved for each label (fraction with that label, mean over labels)
        for K in :data:`RECALL_KS`; ``fine_tuning``: accuracy on the second half of the test
        set before and after fine-tuning (G, F) on the first half; ``proposition_6_1`` on the
        first training batch.
    """
    weights = _weights(weights)
    train_images, train_labels, images, labels = load_data(config)
    z = embed(params["u"], images)
    labels_eye = np.eye(N_CLASSES)
    predicted, probabilities = retrieval.classify(z, labels_eye, similarity="inner")
    # row k: the weights of nu^N_{u|v = k} over the test images (eq. 28)
    conditional = retrieval.conditional_weights(labels_eye, z, similarity="inner")
    ess = [effective_sample_size(w) for w in conditional]
    top = {}
    order = np.argsort(-z, axis=0, kind="stable")  # column k: test images by logit k
    for k in RECALL_KS:
        if k <= len(z):
            top[k] = float(np.mean(labels[order[:k]] == np.arange(N_CLASSES)[None, :]))
    rng = np.random.default_rng([seed, sample_label])
    draws = retrieval.sample_conditional(
        labels_eye[sample_label], z, n_draws, rng, similarity="inner"
    )
    half = len(z) // 2
    G, F, _ = retrieval.fine_tune(z[:half], labels[:half], labels_eye)
    before = float(np.mean(predicted[half:] == labels[half:]))
    after_labels, _ = retrieval.classify(z[half:], G.T, similarity="inner", prior=F)
    batch = min(config.batch_size, len(train_images))
    batch_logits = embed(params["u"], train_images[:batch])
    return {
        "weights": list(weights),
        "paper_name": PAPER_NAMES[weights],
        "description": DESCRIPTIONS[weights],
        "accuracy": float(np.mean(predicted == labels)),
        "probabilities": probabilities,
        "draws": draws,
        "draw_labels": labels[draws],
        "distinct_draws": int(np.unique(draws).size),
        "ess": ess,
        "label_to_image": top,
        "fine_tuning": {
            "n_fine_tune": half,
            "n_scored": len(z) - half,
            "accuracy_before": before,
            "accuracy_after": float(np.mean(after_labels == labels[half:])),
        },
        "proposition_6_1": proposition_6_1_gap(batch_logits, train_labels[:batch]),
    }


def run(config, *, progress=None):
    """Train (or load) all three losses and evaluate them: a dict keyed by the paper's names,
    plus ``config`` and each run's training ``history``."""
    out = {"config": asdict(config)}
    for weights in WEIGHTS:
        result = train(config, weights, progress=progress)
        entry = evaluate(config, weights, result.params)
        entry["history"] = result.history
        out[PAPER_NAMES[weights]] = entry
    return out
