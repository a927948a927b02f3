"""Bad input to the learning half (similarity, losses, retrieval, train, nn): one table per
public function. Every fault is a GaussclipError subclass naming the argument; the constraint
tables do not get in autograd's way (gradients, float32)."""

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import gaussclip as gc
from gaussclip import losses, retrieval
from gaussclip import similarity as sim
from gaussclip.errors import (
    ArgumentTypeError,
    DomainError,
    GaussclipError,
    OptionError,
    RankError,
    ShapeError,
)
from gaussclip.nn import lenet, linear, mlp, transformer
from gaussclip.train import TrainConfig, fit

Z = np.random.default_rng(0).standard_normal((4, 3))
S = np.zeros((4, 4))
U = np.random.default_rng(1).standard_normal((20, 2))
RNG = np.random.default_rng(0)


def _objective(p, x):
    return anp.mean((p["w"] * x) ** 2)


CASES = {
    # similarity
    "sim.cosine temperature -1": (lambda: sim.cosine(Z, Z, -1.0), DomainError, "temperature"),
    "sim.inner temperature 0": (lambda: sim.inner(Z, Z, 0.0), DomainError, "temperature"),
    "sim.inner temperature nan": (lambda: sim.inner(Z, Z, np.nan), DomainError, "temperature"),
    "sim.inner temperature None": (lambda: sim.inner(Z, Z, None), ArgumentTypeError,
                                   "temperature"),
    "sim.inner temperature 'a'": (lambda: sim.inner(Z, Z, "a"), ArgumentTypeError, "temperature"),
    "sim.inner temperature True": (lambda: sim.inner(Z, Z, True), ArgumentTypeError,
                                   "temperature"),
    "sim.inner complex": (lambda: sim.inner(Z + 1j, Z), ArgumentTypeError, "z_u"),
    "sim.inner empty": (lambda: sim.inner(np.ones((0, 3)), Z), ShapeError, "z_u"),
    "sim.inner nan": (lambda: sim.inner(Z, Z * np.nan), DomainError, "z_v"),
    "sim.inner strings": (lambda: sim.inner([["a"]], Z), ArgumentTypeError, "z_u"),
    "sim.inner 1-D": (lambda: sim.inner(Z[0], Z), ShapeError, "z_u"),
    "sim.matrix kind": (lambda: sim.matrix(Z, Z, "dot"), OptionError, "kind"),
    "sim.paired temperature": (lambda: sim.paired(Z, Z, "inner", -2), DomainError,
                               "temperature"),
    "sim.normalize None": (lambda: sim.normalize(None), ArgumentTypeError, "z"),
    # losses
    "cond_loss weights": (lambda: losses.cond_loss(S, (-1.0, 1.0)), OptionError, "weights"),
    "cond_loss 1x1": (lambda: losses.cond_loss(np.zeros((1, 1))), ShapeError, "N >= 2"),
    "cond_loss complex": (lambda: losses.cond_loss(S + 0j), ArgumentTypeError, "S"),
    "cond_loss nan": (lambda: losses.cond_loss(S * np.nan), DomainError, "S"),
    "clip_loss empty": (lambda: losses.clip_loss(np.zeros((0, 0))), ShapeError, "S"),
    "joint_loss empty": (lambda: losses.joint_loss(np.zeros(3), np.zeros(0)), ShapeError,
                         "s_neg"),
    "joint_loss_matrix negatives": (lambda: losses.joint_loss_matrix(S, "all"), OptionError,
                                    "negatives"),
    "gaussian_kernel 0": (lambda: losses.gaussian_kernel(0.0), DomainError, "bandwidth"),
    "gaussian_kernel bool": (lambda: losses.gaussian_kernel(True), ArgumentTypeError,
                             "bandwidth"),
    "one_hot -1": (lambda: losses.one_hot([0, -1], 3), DomainError, "labels"),
    "one_hot 3 of 3": (lambda: losses.one_hot([0, 3], 3), DomainError, "labels"),
    "one_hot floats": (lambda: losses.one_hot([0.5], 3), ArgumentTypeError, "labels"),
    "one_hot n_classes 0": (lambda: losses.one_hot([0], 0), DomainError, "n_classes"),
    "fine_tuning_loss label -1": (
        lambda: losses.fine_tuning_loss(Z, [0, 1, 2, -1], np.ones((3, 3)), np.zeros(3)),
        DomainError, "labels",
    ),
    "fine_tuning_loss label K": (
        lambda: losses.fine_tuning_loss(Z, [0, 1, 2, 3], np.ones((3, 3)), np.zeros(3)),
        DomainError, "labels",
    ),
    "fine_tuning_loss labels length": (
        lambda: losses.fine_tuning_loss(Z, [0, 1], np.ones((3, 3)), np.zeros(3)),
        ShapeError, "labels",
    ),
    "fine_tuning_loss temperature": (
        lambda: losses.fine_tuning_loss(Z, [0, 1, 2, 0], np.ones((3, 3)), np.zeros(3), -1.0),
        DomainError, "temperature",
    ),
    "contrastive_objective temperature": (
        lambda: losses.contrastive_objective(linear.apply, temperature=-1.0), DomainError,
        "temperature",
    ),
    "contrastive_objective loss": (
        lambda: losses.contrastive_objective(linear.apply, loss="ntxent"), OptionError, "loss"
    ),
    "contrastive_objective encoder": (
        lambda: losses.contrastive_objective("linear"), ArgumentTypeError, "encode_u"
    ),
    # retrieval
    "recall_at_k ks 0": (lambda: retrieval.recall_at_k(Z, Z, ks=(0,)), DomainError, "ks"),
    "recall_at_k ks -1": (lambda: retrieval.recall_at_k(Z, Z, ks=(-1,)), DomainError, "ks"),
    "recall_at_k ks 1.5": (lambda: retrieval.recall_at_k(Z, Z, ks=(1.5,)), ArgumentTypeError,
                           "ks"),
    "recall_at_k ks empty": (lambda: retrieval.recall_at_k(Z, Z, ks=()), ShapeError, "ks"),
    "recall_at_k ks int": (lambda: retrieval.recall_at_k(Z, Z, ks=5), ArgumentTypeError, "ks"),
    "recall_at_k empty": (lambda: retrieval.recall_at_k(np.ones((0, 3)), np.ones((0, 3))),
                          ShapeError, "z_u"),
    "ranks complex": (lambda: retrieval.ranks(Z + 1j, Z), ArgumentTypeError, "z_u"),
    "retrieve k 0": (lambda: retrieval.retrieve(Z, Z, 0), DomainError, "k"),
    "retrieve k > N": (lambda: retrieval.retrieve(Z, Z, 5), DomainError, "k"),
    "classify temperature": (lambda: retrieval.classify(Z, Z, temperature=0), DomainError,
                             "temperature"),
    "classify prior": (lambda: retrieval.classify(Z, Z, prior=[1.0]), ShapeError, "prior"),
    "conditional_weights empty": (lambda: retrieval.conditional_weights(Z, np.ones((0, 3))),
                                  ShapeError, "z_candidates"),
    "fine_tune label -1": (lambda: retrieval.fine_tune(Z, [0, 1, 2, -1], np.ones((3, 3))),
                           DomainError, "labels"),
    "fine_tune label K": (lambda: retrieval.fine_tune(Z, [0, 1, 2, 3], np.ones((3, 3))),
                          DomainError, "labels"),
    "fine_tune config": (lambda: retrieval.fine_tune(Z, [0, 1, 2, 0], np.ones((3, 3)),
                                                     config={"epochs": 1}),
                         ArgumentTypeError, "config"),
    "sample_conditional rng": (lambda: retrieval.sample_conditional(Z[0], Z, 2, 0),
                               ArgumentTypeError, "rng"),
    "sample_conditional k": (lambda: retrieval.sample_conditional(Z[0], Z, 0, RNG),
                             DomainError, "k"),
    # train
    "TrainConfig lr True": (lambda: TrainConfig(lr=True), ArgumentTypeError, "lr"),
    "TrainConfig lr -1": (lambda: TrainConfig(lr=-1.0), DomainError, "lr"),
    "TrainConfig lr 'a'": (lambda: TrainConfig(lr="a"), ArgumentTypeError, "lr"),
    "TrainConfig batch_size 1": (lambda: TrainConfig(batch_size=1), DomainError, "batch_size"),
    "TrainConfig beta1 1": (lambda: TrainConfig(beta1=1.0), DomainError, "beta1"),
    "TrainConfig epochs 2.0": (lambda: TrainConfig(epochs=2.0), ArgumentTypeError, "epochs"),
    "TrainConfig schedule": (lambda: TrainConfig(schedule="linear"), OptionError, "schedule"),
    "TrainConfig progress": (lambda: TrainConfig(progress="yes"), ArgumentTypeError,
                             "progress"),
    "fit data empty": (lambda: fit(_objective, {"w": np.ones(1)}, ()), ShapeError, "data"),
    "fit data rows": (lambda: fit(_objective, {"w": np.ones(1)}, (np.ones((0, 1)),)),
                      ShapeError, "data"),
    "fit data complex": (lambda: fit(_objective, {"w": np.ones(1)}, (np.ones((4, 1)) + 1j,)),
                         ArgumentTypeError, "data"),
    "fit data ragged": (lambda: fit(_objective, {"w": np.ones(1)}, ([[1.0], [1.0, 2.0]],)),
                        ShapeError, "data"),
    "fit objective": (lambda: fit(None, {"w": np.ones(1)}, (np.ones((4, 1)),)),
                      ArgumentTypeError, "objective"),
    "fit config": (lambda: fit(_objective, {"w": np.ones(1)}, (np.ones((4, 1)),), {"lr": 1}),
                   ArgumentTypeError, "config"),
    "fit resume": (lambda: fit(_objective, {"w": np.ones(1)}, (np.ones((4, 1)),),
                               resume="yes"), ArgumentTypeError, "resume"),
    "fit int params": (lambda: fit(_objective, {"w": np.ones(1, int)}, (np.ones((4, 1)),),
                                   TrainConfig(batch_size=2, epochs=1)),
                       ArgumentTypeError, "parameter /w"),
    "fit batch_size > N": (lambda: fit(_objective, {"w": np.ones(1)}, (np.ones((4, 1)),),
                                       TrainConfig(batch_size=8)), ShapeError, "batch_size"),
    "fit_linear temperature -1": (lambda: gc.fit_linear_encoders(U, U, 1, temperature=-1),
                                  DomainError, "temperature"),
    "fit_linear temperature 0": (lambda: gc.fit_linear_encoders(U, U, 1, temperature=0),
                                 DomainError, "temperature"),
    "fit_linear temperature None": (lambda: gc.fit_linear_encoders(U, U, 1, temperature=None),
                                    ArgumentTypeError, "temperature"),
    "fit_linear lr True": (lambda: gc.fit_linear_encoders(U, U, 1, lr=True),
                           ArgumentTypeError, "lr"),
    "fit_linear init_scale True": (lambda: gc.fit_linear_encoders(U, U, 1, init_scale=True),
                                   ArgumentTypeError, "init_scale"),
    "fit_linear init_scale 'a'": (lambda: gc.fit_linear_encoders(U, U, 1, init_scale="a"),
                                  ArgumentTypeError, "init_scale"),
    "fit_linear batch_size 1": (lambda: gc.fit_linear_encoders(U, U, 1, batch_size=1),
                                DomainError, "batch_size"),
    "fit_linear complex": (lambda: gc.fit_linear_encoders(U + 1j, U, 1), ArgumentTypeError,
                           "u"),
    "fit_linear empty": (lambda: gc.fit_linear_encoders(np.ones((0, 2)), np.ones((0, 2)), 1),
                         ShapeError, "u"),
    "fit_linear n_e 0": (lambda: gc.fit_linear_encoders(U, U, 0), RankError, "n_e"),
    "fit_linear dtype": (lambda: gc.fit_linear_encoders(U, U, 1, dtype=np.int32), OptionError,
                         "dtype"),
    "fit_linear resume": (lambda: gc.fit_linear_encoders(U, U, 1, resume=1), ArgumentTypeError,
                          "resume"),
    # nn
    "linear.init n_in 0": (lambda: linear.init(RNG, 0, 2), DomainError, "n_in"),
    "linear.init scale True": (lambda: linear.init(RNG, 2, 2, scale=True), ArgumentTypeError,
                               "scale"),
    "linear.init rng": (lambda: linear.init(0, 2, 2), ArgumentTypeError, "rng"),
    "linear.apply complex": (lambda: linear.apply(linear.init(RNG, 3, 2), Z + 1j),
                             ArgumentTypeError, "x"),
    "mlp.init sizes": (lambda: mlp.init(RNG, (4,)), ShapeError, "sizes"),
    "mlp.init sizes 0": (lambda: mlp.init(RNG, (4, 0)), DomainError, "sizes"),
    "lenet.init dtype": (lambda: lenet.init(RNG, dtype="int8"), OptionError, "dtype"),
    "lenet.apply empty": (lambda: lenet.apply(lenet.init(RNG), np.zeros((0, 28, 28))),
                          ShapeError, "x"),
    "transformer.init config": (lambda: transformer.init(RNG, {"d": 1}), ArgumentTypeError,
                                "config"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_raises_a_gaussclip_error_naming_the_argument(name):
    call, error, argument = CASES[name]
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, GaussclipError)
    assert argument in str(info.value)


def test_batch_size_one_message_is_about_batch_size():
    with pytest.raises(DomainError, match=r"`batch_size` must be an integer in \[2, .*at least 2"):
        TrainConfig(batch_size=1)


def test_tables_are_declared_on_the_public_functions():
    for function in (sim.cosine, losses.cond_loss, losses.fine_tuning_loss, retrieval.recall_at_k,
                     fit, gc.fit_linear_encoders, linear.init, mlp.init):  # fmt: skip
        assert function.constraints, function


def test_gradients_flow_through_the_validated_functions_and_float32_is_kept():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3))
    y = rng.standard_normal((5, 3))

    def loss(w, temperature):
        return losses.cond_loss(sim.cosine(x * w, y, temperature))

    g_w = grad(loss, 0)(np.ones(3), 0.5)
    g_t = grad(loss, 1)(np.ones(3), 0.5)  # a traced temperature passes its table
    step = 1e-6
    numeric = (loss(np.ones(3), 0.5 + step) - loss(np.ones(3), 0.5 - step)) / (2 * step)
    assert np.all(np.isfinite(g_w)) and np.isclose(g_t, numeric, rtol=1e-6)
    z32 = x.astype(np.float32)
    assert sim.inner(z32, z32).dtype == np.float32
    assert losses.cond_loss(sim.inner(z32, z32)).dtype == np.float32
    assert mlp.apply(mlp.init(rng, (3, 2)), z32).dtype == np.float32


def test_recall_at_k_equals_the_open_clip_definition_without_ties():
    # open_clip's get_clip_metrics written with NumPy: argsort of the logits, position of the
    # true partner; with distinct scores the stable and unstable sorts agree
    rng = np.random.default_rng(5)
    z_u, z_v = rng.standard_normal((50, 4)), rng.standard_normal((50, 4))
    logits = sim.cosine(z_u, z_v)
    ranking = np.argsort(-logits, axis=1)
    preds = np.nonzero(ranking == np.arange(50)[:, None])[1]
    ours = retrieval.recall_at_k(z_u, z_v, ks=(1, 5, 10))["u_to_v"]
    for k in (1, 5, 10):
        assert ours[f"R@{k}"] == np.mean(preds < k)
    assert ours["mean_rank"] == preds.mean() + 1
    assert ours["median_rank"] == np.floor(np.median(preds)) + 1
    # an exact tie with the true partner: gaussclip ranks the smaller index first, always
    tied = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert retrieval.ranks(tied, tied)["u_to_v"].tolist() == [1, 2]
