"""Smoke test of every figure script, with the theory each figure illustrates checked on the
numbers of its JSON (means matched, variances inflated, joint marginals closer, ...).

Scripts are *discovered*: a new ``figNN_<slug>.py`` is run here automatically and fails until it
has an entry in :data:`CHECKS`.
"""

import importlib
import json
import math
import os
import sys
import time
import types

import joblib
import numpy as np
import pytest

import gaussclip as gc
from gaussclip.cli import main as gaussclip_main
from gaussclip.data import gp
from paper_figures import _common, _tasks
from paper_figures.__main__ import SUMMARY_NAME, discover, run
from paper_figures.__main__ import main as figures_main
from paper_figures.paths import FIGURES_DIR, REPO_ROOT, SCRIPTS_DIR

SCRIPTS = discover()
#: The 2-D example: Var u = Var v = 1.5, Cov = 1, canonical correlation 2/3.
C_UU = 1.5
SIGMA = 2.0 / 3.0
C_COND = C_UU - 1.0 / C_UU
#: Engine closed forms against each other: rounding only.
EXACT = 1e-10
#: Trapezoidal moments on the tiny grids (h = 0.1 in 1-D, 0.2 in 2-D, on [-7, 7]) against exact
#: moments; the rule is spectrally accurate for Gaussians and O(h^2) across the cosine model's
#: jump at 0 (a cell midpoint). Observed errors are below 1e-4.
GRID_RTOL = 2e-3
#: Band coverage of 400 conditional samples: nominal 0.95, binomial standard error ~0.011 per
#: coordinate; averaging over coordinates only shrinks it.
COVERAGE_RANGE = (0.90, 0.99)
#: 2-D trapezoidal moments of the cosine model, whose density jumps along both axes: O(h^2)
#: error, 2.3e-3 relative at the tiny mesh (h = 0.2), 1e-4 at the quick one.
JUMP_2D_RTOL = 1e-2


# --------------------------------------------------------------------------- theory per figure
def _close(a, b, rtol=GRID_RTOL):
    """``a == b`` to ``rtol`` relative to the size of ``b`` (entries near 0 included)."""
    b = np.asarray(b, dtype=float)
    atol = rtol * max(1.0, float(np.max(np.abs(b))))
    np.testing.assert_allclose(np.asarray(a, dtype=float), b, rtol=rtol, atol=atol)


def _grid_matches_exact(entry):
    _close(entry["model_grid"]["mean"], entry["model"]["mean"])
    _close(entry["model_grid"]["var"], entry["model"]["var"])
    assert abs(entry["model_grid"]["mass"] - 1.0) < GRID_RTOL


def check_fig01(n):
    _close(n["reference"]["cov"], np.diag([C_UU, C_UU]), rtol=EXACT)
    _close(n["target"]["cov"], [[C_UU, 1.0], [1.0, C_UU]], rtol=EXACT)
    for key in ("reference", "target"):
        _close(n[key]["grid"]["var"], n[key]["cov"])
    mutual_information = -0.5 * np.log(1.0 - SIGMA**2)
    _close(n["canonical_correlation"], SIGMA, rtol=EXACT)
    # KL(mu || mu_u x mu_v) is the mutual information
    _close([n["mutual_information"], n["kl_target_reference"]], [mutual_information] * 2, EXACT)


def check_fig02(n):
    """Theorem 5.1 / Corollary 5.2: means matched, conditional variances = C_uu > C_u|v;
    marginal variance C_uu / (1 - sigma^2) (eq. 55a)."""
    for side in ("u", "v"):
        cond = n[f"conditional_{side}"]
        assert abs(cond["model"]["mean"] - cond["data"]["mean"]) < EXACT
        _close(cond["data"]["var"], C_COND, rtol=EXACT)
        _close(cond["model"]["var"], C_UU, rtol=EXACT)
        assert cond["model"]["var"] > cond["data"]["var"]
        _close(n[f"marginal_{side}"]["model"]["var"], C_UU / (1 - SIGMA**2), rtol=EXACT)
        for key in (f"conditional_{side}", f"marginal_{side}"):
            _grid_matches_exact(n[key])
    assert n["solution"]["method"] == "closed-form"


def check_fig03(n):
    """Theorem 5.3 / Corollary 5.4: u|v exact, v|u not; the one-sided objective is zero."""
    cond_u, cond_v = n["conditional_u"], n["conditional_v"]
    assert abs(cond_u["model"]["mean"] - cond_u["data"]["mean"]) < EXACT
    assert abs(cond_u["model"]["var"] - cond_u["data"]["var"]) < EXACT
    mismatch = abs(cond_v["model"]["mean"] - cond_v["data"]["mean"]) + abs(
        cond_v["model"]["var"] - cond_v["data"]["var"]
    )
    assert mismatch > 0.1
    assert abs(n["solution"]["objective"]) < EXACT
    assert n["solution"]["weights"] == [2.0, 0.0] and n["solution"]["tilting"] == "quadratic"
    for key in ("conditional_u", "conditional_v", "marginal_u", "marginal_v"):
        _grid_matches_exact(n[key])


def check_fig04(n):
    """Theorem 5.6 / Corollary 5.7: marginal variance C_uu / (1 - h(sigma)^2) (eq. 55b), closer
    to C_uu than cond x inner's; conditional means shrunk towards 0 (biased)."""
    for side in ("u", "v"):
        marginal = n[f"marginal_{side}"]
        _close(marginal["model"]["var"], C_UU / (1 - float(gc.h(SIGMA)) ** 2), rtol=EXACT)
        data = marginal["data"]["var"]
        assert abs(marginal["model"]["var"] - data) < abs(marginal["compare"]["var"] - data)
        cond = n[f"conditional_{side}"]
        assert 0 < cond["model"]["mean"] < cond["data"]["mean"] - 0.1
        _grid_matches_exact(cond)
        _grid_matches_exact(marginal)
    assert n["compare_solution"]["loss"] == "cond"


def check_fig05(n):
    """The joint loss gives the model closest to mu in KL(mu || nu)."""
    keys = ("cond_inner", "cond_quadratic_2_0", "joint_inner")
    kl = {key: n[key]["kl_data_model"] for key in keys}
    assert min(kl, key=kl.get) == "joint_inner"
    assert all(value > 0 for value in kl.values())
    for key in keys:
        _close(n[key]["model_grid"]["var"], n[key]["model_cov"])
    # cond x inner inflates both variances; cond x quadratic (2, 0) shrinks both
    assert np.all(np.diag(n["cond_inner"]["model_cov"]) > C_UU)
    assert np.all(np.diag(n["cond_quadratic_2_0"]["model_cov"]) < C_UU)


def check_fig06(n):
    """Cosine tilting in 1-D: nu tilts mu_u x mu_v by exp(kappa sign(u) sign(v)), |kappa| = 1
    with n_e = 1. Checked against the half-Gaussian closed forms worked out here."""
    sol = n["solution"]
    assert sol["method"] == "numerical" and sol["certificate"]["converged"]
    assert n["model_exact"]
    kappa = n["kappa"]
    assert abs(abs(kappa) - 1.0) < EXACT and kappa > 0  # positive correlation captured
    # nu_{u|v}(u|v) = mu_u(u) exp(kappa sign(u)) / cosh(kappa) for v > 0: mean
    # tanh(kappa) E|u| = tanh(kappa) sqrt(2 C_uu / pi), variance C_uu - mean^2
    mean = np.tanh(kappa) * np.sqrt(2.0 * C_UU / np.pi)
    for side in ("u", "v"):
        cond = n[f"conditional_{side}"]
        _close(cond["model_grid"]["mean"], mean)
        _close(cond["model_grid"]["var"], C_UU - mean**2)
        _close(cond["density_ratio_across_zero"], np.exp(2.0 * kappa), rtol=1e-6)
        assert n[f"marginal_{side}_max_abs_log_error"] < EXACT  # marginals exact in 1-D
    # joint: Cov(u, v) = E[u sign(u)] E[v sign(v)] tanh(kappa) = (2 C_uu / pi) tanh(kappa)
    cov = np.asarray(n["joint_grid"]["var"])
    _close(cov[0, 1], 2.0 * C_UU / np.pi * np.tanh(kappa), rtol=JUMP_2D_RTOL)
    _close(np.diag(cov), [C_UU, C_UU], rtol=JUMP_2D_RTOL)


def check_fig07(n):
    """Exact GP conditionals: bands are mean +- 1.96 sd and cover ~95% of the samples; the w|v
    mean is the first n_v terms of the KL expansion with coefficients v."""
    for key in ("w_given_v", "u_given_v", "v_given_u"):
        entry = n[key]
        mean, std = np.asarray(entry["mean"]), np.asarray(entry["std"])
        _close(entry["lower"], mean - 1.959963984540054 * std, rtol=EXACT)
        _close(entry["upper"], mean + 1.959963984540054 * std, rtol=EXACT)
        assert COVERAGE_RANGE[0] < entry["sample_coverage"] < COVERAGE_RANGE[1]
        assert entry["n_samples"] == 400
    x = np.asarray(n["w_given_v"]["x"])
    v = np.asarray(n["realization"]["v"])
    lam = gp.eigenvalues()
    expected = np.sqrt(2.0) * np.cos(np.pi * np.outer(x, np.arange(1, 6))) @ (np.sqrt(lam[:5]) * v)
    _close(n["w_given_v"]["mean"], expected, rtol=1e-9)
    # conditioning informs: v|u is tighter than the prior N(0, 1); u|v is above the noise floor
    assert np.all(np.asarray(n["v_given_u"]["std"]) < 1.0)
    assert np.all(np.asarray(n["u_given_v"]["std"]) > n["config"]["noise_std"])
    sigma = np.asarray(n["canonical_correlations"])
    assert sigma.shape == (5,) and np.all((0 < sigma) & (sigma < 1))


#: Averaged squared errors over the evaluation draws against their exact expectation: the
#: Monte Carlo standard error is reported per run; 5 of them is a 1-in-a-million miss.
MC_SIGMAS = 5.0


def _check_gp_sweep(n, field):
    """Figures 8-10: Theorem 5.1's rank-n_e optimum is exact (zero error) once
    n_e >= min(n_u, n_v) = 5 and the error falls as n_e grows; the per-run Monte Carlo average
    over fresh realizations agrees with the exact mean squared error; the curves drawn are the
    runs' numbers."""
    assert n["sweep"] == field and len(n["runs"]) == len(n["values"]) >= 2
    for run_record, value in zip(n["runs"], n["values"], strict=True):
        assert run_record["config"][field] == value
        rank = min(run_record["config"]["n_e"], 5)
        for side in ("u", "v"):
            population = run_record["error"]["population"][side]
            assert (population < EXACT) == (rank == 5)
            for model in ("trained", "empirical", "population"):
                exact = run_record["error"][model][side]
                mc = run_record["error_mc"][model][side]
                sem = run_record["error_mc_sem"][model][side]
                assert abs(mc - exact) <= MC_SIGMAS * sem + EXACT
        truth = np.asarray(run_record["realization"]["truth_v_given_u"])
        assert truth.shape == (5,) and np.all(
            np.isfinite(run_record["realization"]["trained_v_given_u"])
        )
    for side in ("u", "v"):
        population = n[f"population_error_{side}"]
        assert np.all(np.diff(population) <= EXACT)  # more dimensions never hurt the optimum


def check_fig08(n):
    _check_gp_sweep(n, "n_e")
    assert n["population_error_v"][0] > 0.1  # n_e = 1 misses most of E[v|u]


def check_fig09(n):
    _check_gp_sweep(n, "batch_size")
    # one data set for every batch size: the empirical optimum is the same line
    assert np.ptp(n["empirical_error_v"]) < EXACT


def check_fig10(n):
    _check_gp_sweep(n, "n_samples")


def _check_mnist_losses(n):
    """Figures 11-12: the three losses are all there, with the paper's and gaussclip's names
    swapped for the one-sided ones; Proposition 6.1 (the labels-given-image loss is the
    cross-entropy of count-shifted logits) holds on a real batch to float64 rounding; effective
    sample sizes lie in [1, N]."""
    losses = n["losses"]
    assert {name: tuple(e["weights"]) for name, e in losses.items()} == {
        "(2,0)": (0.0, 2.0),
        "(0,2)": (2.0, 0.0),
        "(1,1)": (1.0, 1.0),
    }
    n_test = n["config"]["n_test"]
    for entry in losses.values():
        assert entry["proposition_6_1"]["gap"] < 1e-9
        assert 0.0 <= entry["accuracy"] <= 1.0
        assert all(1.0 - 1e-9 <= e <= n_test + 1e-9 for e in entry["ess"])
        fine = entry["fine_tuning"]
        assert fine["n_fine_tune"] + fine["n_scored"] == n_test


def check_fig11(n):
    """Calibration numbers under the paper's names, consistent with the reliability table; the
    images shown follow the stated rule (most disputed first, then the median one)."""
    _check_mnist_losses(n)
    assert set(n["calibration"]) == {"(2,0)", "(0,2)", "(1,1)"} and n["ece_bins"] == 15
    for name, entry in n["losses"].items():
        p = np.asarray(entry["probabilities_shown"])
        assert p.shape == (3, 10) and np.all(p >= 0) and np.allclose(p.sum(axis=1), 1.0)
        m = n["calibration"][name]
        assert set(m) == {"accuracy", "nll", "ece", "brier"}
        assert m["accuracy"] == entry["accuracy"]
        assert 0 <= m["ece"] <= 1 and 0 <= m["brier"] <= 2 and m["nll"] >= 0
        # the ECE is the count-weighted gap of the reliability table
        bins = entry["reliability"]
        count = np.asarray(bins["count"], dtype=float)
        filled = count > 0
        acc = np.asarray(bins["accuracy"], dtype=float)  # null (empty bin) -> NaN
        gap = np.abs(acc[filled] - np.asarray(bins["confidence"], dtype=float)[filled])
        assert np.all(np.isnan(acc[~filled]))
        assert np.isclose(np.sum(count[filled] * gap) / count.sum(), m["ece"], rtol=EXACT)
    score = n["image_disagreement"]
    assert score[0] >= score[1] >= score[2]
    assert n["verdict"]


def check_fig12(n):
    _check_mnist_losses(n)
    assert n["label"] == 7
    for entry in n["losses"].values():
        draws = np.asarray(entry["draws"])
        assert draws.shape == (16,) and np.all((0 <= draws) & (draws < n["n_candidates"]))
        assert entry["distinct_draws"] == np.unique(draws).size
        assert entry["ess_label"] == entry["ess"][7]
        assert 1.0 - 1e-9 <= entry["expected_distinct"] <= 16.0 + 1e-9
    # the per-epoch record of the last epoch is the final evaluation (same model, same draws)
    for name, curve in n["collapse_per_epoch"].items():
        final = n["losses"][name]
        assert curve["epoch"] == list(range(1, n["config"]["epochs"] + 1))
        assert np.isclose(curve["ess_label"][-1], final["ess_label"], rtol=1e-9)
        assert np.isclose(curve["ess_median"][-1], np.median(final["ess"]), rtol=1e-9)
        assert curve["distinct_draws"][-1] == final["distinct_draws"]
        assert np.isclose(curve["expected_distinct"][-1], final["expected_distinct"], rtol=1e-9)
        assert np.isclose(curve["accuracy"][-1], final["accuracy"], rtol=1e-12)


def check_fig13(n):
    """The tracer starts at x0 = (0.75, 0.75) moving with the flow's velocity there: the first
    recorded point (after t_1 = 1e-4) is x0 + w(x0, 0) t_1 up to O(t_1^2) (a few percent)."""
    for sample in n["samples"]:
        step = np.asarray(sample["first_point"]) - np.asarray([0.75, 0.75])
        expected = np.asarray(sample["velocity_at_x0"]) * sample["first_time"]
        assert np.linalg.norm(step - expected) <= 0.05 * np.linalg.norm(expected) + 1e-6
        assert sample["path_length"] >= sample["reach"] > 0
        low, high = sample["psi_range"]
        assert low < 0 < high  # a zero-mean potential (no k = 0 mode) changes sign


def check_fig14(n):
    """Recall is a fraction that cannot fall when k grows; chance is k / candidates."""
    for key, values in n["curves"].items():
        assert len(values) == len(n["epochs"]) and all(0.0 <= x <= 1.0 for x in values)
        if "/R@1/" in key:
            at5 = n["curves"][key.replace("/R@1/", "/R@5/")]
            assert all(a <= b for a, b in zip(values, at5, strict=True))
    ref = n["physics_reference"]
    assert ref["settings"] == {"noise": 1e-2, "every": 10, "n_velocities": 100}
    for scope in ("full", "batch"):
        for direction in ("c_to_t", "t_to_c"):
            r = ref[scope][direction]
            assert 0.0 <= r["R@1"] <= r["R@5"] <= 1.0
    for k in (1, 5):
        assert n["chance"][f"R@{k}"]["full"] == k / n["n_candidates"]["full"]
        assert n["chance"][f"R@{k}"]["batch"] == k / n["n_candidates"]["batch"]


def check_fig15(n):
    """Algorithm 1 returns the best-scoring candidates first, and the true potential's rank is
    consistent with the list."""
    scores = np.asarray(n["scores"])
    assert np.all(np.diff(scores) <= 0) and len(n["top"]) == 3
    assert 1 <= n["rank_of_true"] <= n["n_candidates"]
    if n["query"] in n["top"]:
        assert n["top"].index(n["query"]) + 1 == n["rank_of_true"]
    else:
        assert n["rank_of_true"] > 3


CHECKS = {
    1: check_fig01,
    2: check_fig02,
    3: check_fig03,
    4: check_fig04,
    5: check_fig05,
    6: check_fig06,
    7: check_fig07,
    8: check_fig08,
    9: check_fig09,
    10: check_fig10,
    11: check_fig11,
    12: check_fig12,
    13: check_fig13,
    14: check_fig14,
    15: check_fig15,
}


# --------------------------------------------------------------------------- the smoke test
def test_discovery_finds_every_script():
    """Guard against a pattern that silently matches nothing or skips a misnamed script."""
    assert set(range(1, 8)) <= set(SCRIPTS)
    candidates = sorted(p.stem for p in SCRIPTS_DIR.glob("fig*.py"))
    assert candidates == sorted(name.split(".")[-1] for name in SCRIPTS.values())


@pytest.mark.parametrize("number", sorted(SCRIPTS))
def test_figure_script_writes_png_and_json_obeying_the_theory(number, tmp_path, monkeypatch):
    # trained runs and generated data of the tiny mode go to a private cache, not the user's
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path / "cache"))
    module = importlib.import_module(SCRIPTS[number])
    stem = SCRIPTS[number].split(".")[-1]
    out = tmp_path / "figures"
    module.main(out, "tiny")
    png, record = out / f"{stem}.png", out / f"{stem}.json"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    data = json.loads(record.read_text())
    assert data["figure"] == number and data["stem"] == stem and data["mode"] == "tiny"
    # no panel title is drawn under the figure title
    assert data["layout"]["titles_under_suptitle"] == []
    assert data["title"].startswith(f"Figure {number}:")
    assert sorted(p.name for p in out.iterdir()) == sorted([png.name, record.name])
    if number not in CHECKS:
        pytest.fail(f"figure {number} has no theory check; add one to CHECKS in {__file__}")
    CHECKS[number](data["numbers"])


# --------------------------------------------------------------------------- the runner
def test_command_line_runs_selected_figures_and_writes_a_summary(tmp_path, capsys):
    assert figures_main(["--tiny", "--only", "1", "2", "--out", str(tmp_path), "--jobs", "1"]) == 0
    assert (tmp_path / "fig01_reference_target.png").exists()
    assert (tmp_path / "fig02_cond_inner.json").exists()
    summary = json.loads((tmp_path / SUMMARY_NAME).read_text())
    assert summary["mode"] == "tiny" and [f["figure"] for f in summary["figures"]] == [1, 2]
    assert all(f["error"] is None and f["seconds"] > 0 for f in summary["figures"])
    assert all(f["cpu_seconds"] > 0 for f in summary["figures"])
    assert summary["total_seconds"] >= sum(f["seconds"] for f in summary["figures"])
    assert summary["total_cpu_seconds"] > 0 and summary["cpu_count"] >= 1
    assert summary["workers"] == 0 and summary["background_tasks"] == {}  # 1, 2 declare none
    out = capsys.readouterr().out
    assert "figure 02" in out and "CPU s" in out and "total:" in out


def test_background_tasks_run_the_training_of_figures_11_and_12(tmp_path, monkeypatch, capfd):
    # the runner trains the three MNIST runs in worker processes, then the figures load them
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "figures"
    argv = ["--tiny", "--only", "11", "12", "--out", str(out), "--workers", "2", "--jobs", "1"]
    assert figures_main(argv) == 0
    summary = json.loads((out / SUMMARY_NAME).read_text())
    tasks = summary["background_tasks"]
    assert sorted(tasks) == ["MNIST (0,2)", "MNIST (1,1)", "MNIST (2,0)", "MNIST data"]
    assert all(t["error"] is None and t["cpu_seconds"] > 0 for t in tasks.values())
    # the trainings started after the data task had finished
    assert all(t["started"] >= tasks["MNIST data"]["finished"] for k, t in tasks.items()
               if k != "MNIST data")  # fmt: skip
    printed = capfd.readouterr().out  # the workers print to the inherited file descriptor
    assert "[MNIST (2,0)] epoch 2/2" in printed and "[MNIST (2,0)] done" in printed
    # the runs are the figures' cached runs: Figure 12's curve has both epochs
    record = json.loads((out / "fig12_mnist_conditional_samples.json").read_text())
    assert record["numbers"]["collapse_per_epoch"]["(2,0)"]["epoch"] == [1, 2]
    # and the numbers do not depend on where the runs were trained: the same figure drawn with
    # no background worker, from an empty cache
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path / "cache_inline"))
    inline = tmp_path / "inline"
    argv = ["--tiny", "--only", "12", "--out", str(inline), "--workers", "0", "--jobs", "1"]
    assert figures_main(argv) == 0
    again = json.loads((inline / "fig12_mnist_conditional_samples.json").read_text())
    for key in ("collapse_per_epoch", "ess_median_ratio"):  # (epoch_seconds differ, of course)
        assert again["numbers"][key] == record["numbers"][key]
    for name, entry in record["numbers"]["losses"].items():
        assert again["numbers"]["losses"][name]["draws"] == entry["draws"]


def test_background_orders_tasks_by_needs_and_reports_failures():
    log = []
    tasks = [
        _tasks.Task("second", time.sleep, (0.0,), needs=("first",)),
        _tasks.Task("first", time.sleep, (0.2,)),
        _tasks.Task("broken", math.sqrt, (-1.0,)),
        _tasks.Task("first", math.sqrt, (4.0,)),  # a duplicate key: the first one counts
    ]
    with _tasks.Background(tasks, 2, log=lambda *a, **k: log.append(a[0])) as background:
        cpu = background.wait(["second"])
        assert cpu >= 0.0 and background.done["first"].is_set()
        assert background.wait(["second", "first"]) == 0.0  # each task's CPU is counted once
        background.wait(["broken"])
    report = background.report
    assert report["second"]["started"] >= report["first"]["finished"]
    assert report["first"]["error"] is None and report["first"]["seconds"] >= 0.2
    assert report["broken"]["error"].startswith("ValueError")
    assert any("[broken] FAILED" in line for line in log)
    with pytest.raises(ValueError, match="unknown tasks"):
        _tasks.Background([_tasks.Task("a", time.sleep, (0,), needs=("b",))], 1)


def test_without_workers_background_waits_for_nothing():
    with _tasks.Background([_tasks.Task("a", time.sleep, (10.0,))], 0) as background:
        assert background.wait(["a"]) == 0.0 and background.report == {}


def test_epoch_printer_prints_sparse_lines_and_the_last_epoch(capsys):
    printer = _tasks.EpochPrinter("run", 3, every=3600.0)
    for epoch in (1, 2, 3):
        printer(epoch, None, {"loss": 0.5, "seconds": 1.0})
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("]")[0] for line in lines] == ["  [run", "  [run"]
    assert "epoch 1/3" in lines[0] and "epoch 3/3" in lines[1]
    assert lines[0].endswith("~0.0 min left") and lines[1].endswith("~0.0 min left")
    printer = _tasks.EpochPrinter("long", 101, every=0.0)
    printer(1, None, {"loss": 0.5, "seconds": 60.0})
    assert capsys.readouterr().out.strip().endswith("~100.0 min left")


def test_background_sets_the_worker_environment_while_it_runs(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    with _tasks.Background([_tasks.Task("a", time.sleep, (0.0,))], 1) as background:
        assert all(os.environ[k] == v for k, v in _tasks.WORKER_ENV.items())
        background.wait(["a"])
    assert os.environ["OMP_NUM_THREADS"] == "7"


def test_gaussclip_figures_forwards_every_option(tmp_path):
    assert gaussclip_main(["figures", "--tiny", "--only", "3", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "fig03_cond_quadratic_one_sided.json").exists()


def test_command_line_rejects_bad_options(tmp_path):
    with pytest.raises(SystemExit):
        figures_main(["--only", "99", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        figures_main(["--jobs", "0", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        figures_main(["--workers", "-1", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        figures_main(["--quick", "--full"])


def test_a_failing_script_is_reported_and_the_others_still_run(tmp_path, monkeypatch):
    broken = types.ModuleType("broken_figure")

    def main(out_dir, mode):
        raise RuntimeError("boom")

    broken.main = main
    monkeypatch.setitem(sys.modules, "broken_figure", broken)
    results = run({98: "broken_figure", 1: SCRIPTS[1]}, tmp_path, "tiny", 1)
    assert [(r[0], r[3]) for r in results] == [(1, None), (98, "RuntimeError: boom")]
    assert all(r[4] >= 0 for r in results)  # CPU seconds
    assert (tmp_path / "fig01_reference_target.png").exists()


def test_discover_rejects_two_scripts_for_one_figure(tmp_path):
    (tmp_path / "fig01_a.py").write_text("")
    (tmp_path / "fig01_b.py").write_text("")
    (tmp_path / "fig1_short_number.py").write_text("")
    with pytest.raises(RuntimeError, match="two scripts for figure 1"):
        discover(tmp_path)
    (tmp_path / "fig01_b.py").unlink()
    assert discover(tmp_path) == {1: "paper_figures.fig01_a"}


def _square(x):
    return x * x


def test_sweep_runs_points_as_joblib_jobs_in_order():
    assert _common.sweep(_square, range(6)) == [0, 1, 4, 9, 16, 25]
    with joblib.parallel_config(n_jobs=2):
        assert _common.sweep(_square, range(6)) == [0, 1, 4, 9, 16, 25]


_CALLS = []


def _record_call(x):
    _CALLS.append(x)
    return (x["a"] if isinstance(x, dict) else x) + 1


def test_sweep_computes_each_point_once_per_process():
    # Figures 8-10 share a sweep point; it is trained once (points are deterministic)
    _CALLS.clear()
    assert _common.sweep(_record_call, [100, 101, 100]) == [101, 102, 101]
    assert _common.sweep(_record_call, [101, 102]) == [102, 103]
    assert _common.sweep(_record_call, [{"a": 7}, {"a": 7}]) == [8, 8]  # unhashable: computed
    assert _CALLS == [100, 101, 102, {"a": 7}, {"a": 7}]


def test_helpers_reject_bad_input(tmp_path):
    with pytest.raises(gc.OptionError, match="mode"):
        _common.check_mode("medium")
    fig, _ = _common.new_figure("tiny", 1, 1)
    with pytest.raises(gc.OptionError, match="figNN"):
        _common.save_figure(fig, tmp_path, "figure_one", "tiny", "t", {})


def test_titles_under_suptitle_detects_an_overlap():
    fig, axes = _common.new_figure("tiny", 1, 2)
    fig.set_layout_engine(None)
    axes[0, 0].set_title("left panel")
    axes[0, 1].set_title("right panel")
    fig.subplots_adjust(top=0.8)
    fig.suptitle("a long figure title across both panels", y=0.82, va="bottom")
    fig.canvas.draw()
    assert _common.titles_under_suptitle(fig) == ["left panel", "right panel"]
    fig.suptitle("a long figure title across both panels", y=0.99, va="top")
    fig.canvas.draw()
    assert _common.titles_under_suptitle(fig) == []


def test_paths():
    assert (REPO_ROOT / "paper_figures" / "__main__.py").exists()
    assert FIGURES_DIR == REPO_ROOT / "figures"


def test_figures_8_to_10_share_one_sweep_point_in_quick_mode():
    # the point the sweep cache trains once for the three figures (paper_figures/README.md)
    from paper_figures import _gp_sweep

    fields = {8: "n_e", 9: "batch_size", 10: "n_samples"}
    points = [
        set(_gp_sweep.configs("quick", importlib.import_module(SCRIPTS[n]).VALUES["quick"], f))
        for n, f in fields.items()
    ]
    shared = points[0] & points[1] & points[2]
    assert [(p.n_e, p.n_samples, p.batch_size) for p in shared] == [(5, 10_000, 512)]
