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

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import logsumexp

from .. import calibration, losses, retrieval
from .._checks import choice, integer
from ..data import mnist
from ..errors import OptionError
from ..nn import lenet
from ..train import TrainConfig, fit
from ..train.threads import one_blas_thread
from ._run_format import run_path

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
#: Figure 12: draws from nu^N(u | v = SAMPLE_LABEL) over the test images.
SAMPLE_LABEL = 7
N_DRAWS = 16


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


#: ``full`` = the paper; ``quick`` = ``make figures``; ``tiny`` = the smoke test, on synthetic
#: digits. Quick trains on the first 10,000 training images for 50 epochs (950 Adam steps of 512
#: images) at a constant lr 2e-3: the classifier's collapse grows as it fits its training set,
#: and with a constant lr a shorter run is a prefix of a longer one, so the budget is read off
#: the collapse curve of a 90-epoch run measured on held-out training images (the last 10,000,
#: never the test set; ``benchmarks/mnist_collapse_budget.py``): 50 is the first round number
#: of epochs from which 16 draws for v = 7 hold at most 10 distinct images with probability
#: >= 0.9 at every later epoch (0.90 at epoch 49, 0.56 at epoch 30; paper_figures/README.md has
#: the curve). Test accuracy stays ~98%.
PRESETS = {
    "full": MnistConfig(),
    "quick": MnistConfig(epochs=50, lr=2e-3, schedule="constant", n_train=10_000),
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
    return run_path(
        "mnist_runs",
        f"lenet_{weights[0]:g}_{weights[1]:g}",
        {"config": asdict(config), "weights": weights},
    )


def objective(weights):
    """:math:`L_{cond}` with ``weights`` for LeNet images against one-hot labels (inner
    product similarity, temperature 1)."""
    return losses.contrastive_objective(
        lenet.apply, None, loss="cond", similarity="inner", weights=_weights(weights)
    )


def train(config, weights, *, progress=None, callbacks=()):
    """Train (or load, or resume) LeNet-5 with the conditional loss of ``weights``.

    ``callbacks`` are passed to :func:`gaussclip.train.fit` (e.g. to stop early), after
    :func:`collapse_monitor`, which adds the test-set collapse statistics to every epoch's
    record.

    Returns
    -------
    TrainResult
        ``params["u"]`` holds the LeNet parameters; ``history`` one record per epoch, with the
        ``collapse`` entry of :func:`collapse_monitor`.
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
        callbacks=[collapse_monitor(config), *callbacks],
    )


def embed(params, images):
    """LeNet outputs (logits) of ``images`` (N, 28, 28), float64, in chunks (one BLAS thread,
    as in training: :mod:`gaussclip.train.threads`)."""
    with one_blas_thread():
        chunks = [
            lenet.apply(params, images[i : i + EVAL_CHUNK])
            for i in range(0, len(images), EVAL_CHUNK)
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


def expected_distinct(weights, n_draws=N_DRAWS):
    """Expected number of distinct images among ``n_draws`` draws with replacement from the
    normalized ``weights``: :math:`\\sum_i 1 - (1 - w_i)^{n}` (image i is missed by all n
    independent draws with probability :math:`(1 - w_i)^n`). The exact mean of the noisy count
    ``distinct_draws``: close to n when the weights spread over many more than n images, 1
    for a point mass."""
    weights = np.asarray(weights, dtype=np.float64)
    with np.errstate(divide="ignore"):  # w_i = 1: log1p(-1) = -inf, and the term is then 1
        log_missed = n_draws * np.log1p(-weights)
    # 1 - (1 - w)^n as -expm1(n log1p(-w)): no cancellation for the many tiny weights
    return float(-np.sum(np.expm1(log_missed)))


def collapse_stats(z, *, n_draws=N_DRAWS, sample_label=SAMPLE_LABEL, seed=0):
    """How concentrated :math:`\\nu^N_{u|v}` (eq. 28) is over the images embedded as ``z``.

    Parameters
    ----------
    z : (N, 10) array
        Logits of the candidate images (the inner product with the one-hot label embedding).

    Returns
    -------
    dict
        ``ess`` (10,) effective sample size of the weights for each label, ``ess_median``
        (median over labels), ``ess_label`` (for ``sample_label``), ``draws`` (``n_draws``
        indices drawn with replacement for ``sample_label``, generator seeded by
        ``[seed, sample_label]``), ``distinct_draws`` and ``expected_distinct`` (its exact mean
        over draws, :func:`expected_distinct`).
    """
    labels_eye = np.eye(N_CLASSES)
    # row k: the weights of nu^N_{u|v = k} over the candidate images (eq. 28)
    conditional = retrieval.conditional_weights(labels_eye, z, similarity="inner")
    ess = [effective_sample_size(w) for w in conditional]
    rng = np.random.default_rng([seed, sample_label])
    draws = retrieval.sample_conditional(
        labels_eye[sample_label], z, n_draws, rng, similarity="inner"
    )
    return {
        "ess": ess,
        "ess_median": float(np.median(ess)),
        "ess_label": ess[sample_label],
        "draws": draws,
        "distinct_draws": int(np.unique(draws).size),
        "expected_distinct": expected_distinct(conditional[sample_label], n_draws),
    }


def collapse_monitor(config):
    """A :func:`gaussclip.train.fit` callback recording, after each epoch, the collapse of
    :math:`\\nu^N_{u|v}` over the test images (:func:`collapse_stats`: median ESS over labels,
    ESS for v = 7, distinct images among 16 draws and their expected number) and the test
    accuracy, as the record's
    ``collapse`` entry. Figure 12 plots it against the epoch."""
    _, _, images, labels = load_data(config)

    def record(epoch, params, _record):
        z = embed(params["u"], images)
        stats = collapse_stats(z)
        return {
            "collapse": {
                "ess_median": stats["ess_median"],
                "ess_label": stats["ess_label"],
                "distinct_draws": stats["distinct_draws"],
                "expected_distinct": stats["expected_distinct"],
                "accuracy": float(np.mean(np.argmax(z, axis=1) == labels)),
            }
        }

    return record


def evaluate(config, weights, params, *, n_draws=N_DRAWS, sample_label=SAMPLE_LABEL, seed=0):
    """Everything Figures 11-12 and their JSON report for one trained model.

    Returns
    -------
    dict
        ``accuracy`` (test, Algorithm 2 with a uniform prior); ``probabilities`` (n_test, 10);
        ``calibration`` (:func:`gaussclip.calibration.calibration_metrics` of the logits over
        the test set: accuracy, NLL, ECE with 15 equal-width bins, Brier score) and
        ``reliability`` (its per-bin table);
        ``draws`` (n_draws test indices sampled from :math:`\\nu^N_{u|v}` for
        ``v = sample_label``), ``distinct_draws`` and ``expected_distinct``
        (:func:`expected_distinct`); ``ess`` per digit (effective sample size of
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
    collapse = collapse_stats(z, n_draws=n_draws, sample_label=sample_label, seed=seed)
    top = {}
    order = np.argsort(-z, axis=0, kind="stable")  # column k: test images by logit k
    for k in RECALL_KS:
        if k <= len(z):
            top[k] = float(np.mean(labels[order[:k]] == np.arange(N_CLASSES)[None, :]))
    draws = collapse["draws"]
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
        "calibration": calibration.calibration_metrics(z, labels),
        "reliability": calibration.reliability(probabilities, labels),
        "draws": draws,
        "draw_labels": labels[draws],
        "distinct_draws": collapse["distinct_draws"],
        "expected_distinct": collapse["expected_distinct"],
        "ess": collapse["ess"],
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
