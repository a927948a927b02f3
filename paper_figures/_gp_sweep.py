"""Shared drawing for Figures 8-10: one Section 6.1 training run per sweep point
(:mod:`gaussclip.experiments.gp_sweeps`), run as independent joblib jobs, drawn as

* left: E[u|v] (top) and E[v|u] (bottom) of the trained model for one fixed realization, one
  curve per sweep value, against the truth;
* right: the squared errors averaged over the evaluation realizations, with the population
  optimum (Theorem 5.1) and the empirical optimum on the same samples (Remark D.2).
"""

import numpy as np
from matplotlib import colormaps

from gaussclip.data import gp
from gaussclip.experiments.gp_sweeps import RunConfig, run

from ._common import COMPARE_COLOR, DATA_COLOR, MODEL_COLOR, new_figure, save_figure, sweep

#: Optimization budget per mode. "full" is the paper's (Adam, lr 1e-4, 500 epochs, constant);
#: it does not reach the empirical optimum on these data (see paper_figures/README.md), so
#: "quick" gives every run the same number of Adam steps with a larger, decaying step size,
#: enough to reach it in about 5 s per run.
BUDGET = {
    "tiny": {"steps": 25, "lr": 1e-2, "schedule": "cosine"},
    "quick": {"steps": 1000, "lr": 1e-2, "schedule": "cosine"},
    "full": {"epochs": 500, "lr": 1e-4, "schedule": "constant"},
}
#: Smaller data in the smoke test.
TINY = {"n_samples": 600, "batch_size": 100, "n_eval": 500}

SIDE_TITLES = {"u": r"$E[u\,|\,v]$", "v": r"$E[v\,|\,u]$"}
REFERENCE_STYLE = {
    "population": {"color": DATA_COLOR, "ls": ":", "label": "population optimum (Thm 5.1)"},
    "empirical": {"color": COMPARE_COLOR, "ls": "--", "label": "empirical optimum (Rem. D.2)"},
}


def configs(mode, values, field, **fixed):
    """The RunConfig of every sweep point: ``field`` takes each of ``values``."""
    budget = dict(BUDGET[mode])
    steps = budget.pop("steps", None)
    base = dict(TINY if mode == "tiny" else {}, **fixed, **budget)
    out = []
    for value in values:
        config = RunConfig(**{**base, field: value})
        out.append(config.with_steps(steps) if steps is not None else config)
    return out


def sweep_figure(out_dir, mode, *, stem, title, field, values, label, log_x, fixed):
    """Run the sweep ``field`` over ``values`` and write the figure and its JSON."""
    points = configs(mode, values, field, **fixed)
    results = sweep(run, points, description=stem)
    mu = gp.joint_uv()
    x_obs = gp.observation_points(mu.n_u)
    index = np.arange(1, mu.n_v + 1)

    fig, axes = new_figure(mode, 2, 2, panel_size=(4.0, 3.0))
    colors = colormaps["viridis"](np.linspace(0.0, 0.9, len(values)))
    first = results[0]["realization"]
    for row, (side, x) in enumerate((("u", x_obs), ("v", index))):
        ax = axes[row, 0]
        for value, result, color in zip(values, results, colors, strict=True):
            curve = result["realization"][f"trained_{side}_given_{'v' if side == 'u' else 'u'}"]
            ax.plot(x, curve, "o-", ms=2.5, lw=1.0, color=color, label=f"{label} = {value:g}")
        truth = first[f"truth_{side}_given_{'v' if side == 'u' else 'u'}"]
        ax.plot(x, truth, color=DATA_COLOR, lw=2.2, alpha=0.8, label="truth", zorder=0)
        ax.set(
            title=f"{SIDE_TITLES[side]} for one realization",
            xlabel="observation point x" if side == "u" else "KL mode j",
        )
        ax = axes[row, 1]
        trained = [r["error_mc"]["trained"][side] for r in results]
        sem = [r["error_mc_sem"]["trained"][side] for r in results]
        ax.errorbar(values, trained, yerr=sem, fmt="o-", color=MODEL_COLOR, label="trained")
        for model, style in REFERENCE_STYLE.items():
            ax.plot(values, [r["error"][model][side] for r in results], **style)
        ax.set(
            title=f"squared error of {SIDE_TITLES[side]}",
            xlabel=label,
            yscale="symlog",
            ylim=(0.0, None),
        )
        ax.set_yscale("symlog", linthresh=1e-4)
        if log_x:
            ax.set_xscale("log", base=2)
    axes[0, 0].legend(fontsize=7, ncols=2)
    axes[0, 1].legend(fontsize=7)
    fig.suptitle(title)
    numbers = {
        "sweep": field,
        "values": list(values),
        "fixed": fixed,
        "budget": BUDGET[mode],
        "epochs": [p.epochs for p in points],
        "observation_points": x_obs,
        "runs": results,
    }
    for model in ("trained", "empirical", "population"):
        for side in ("u", "v"):
            numbers[f"{model}_error_{side}"] = [r["error"][model][side] for r in results]
    return save_figure(fig, out_dir, stem, mode, title, numbers)
