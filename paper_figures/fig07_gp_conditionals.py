"""Figure 7: the Gaussian process of Section 6.1 (gaussclip.data.gp). For one draw (u, v) from
mu: the process w given v (left), the noisy point values u given v (middle) and the KL
coefficients v given u (right), each as 400 conditional samples, the conditional mean and the
pointwise 95% band, from the exact Gaussian conditionals (37)."""

from pathlib import Path

import numpy as np
from matplotlib.collections import LineCollection

from gaussclip.data import gp
from gaussclip.summaries import band_coverage, gaussian_band

from ._common import DATA_COLOR, MODEL_COLOR, SAMPLE_COLOR, figure_main, new_figure, save_figure

STEM = Path(__file__).stem
TITLE = "Figure 7: Gaussian process of Section 6.1, exact conditionals (400 samples, 95% bands)"
#: Seed of the realization (u, v) and of the conditional samples.
SEED = 7
#: Conditional samples per panel (the paper's 400, in every mode: drawing them is cheap).
N_SAMPLES = 400
LEVEL = 0.95
#: Plot-grid points for w per mode (at most ~120, see gaussclip.data.gp.PLOT_POINTS).
W_POINTS = {"tiny": 41, "quick": gp.PLOT_POINTS, "full": gp.PLOT_POINTS}
REALIZATION_COLOR = "#d62728"


def _panel(ax, x, conditional, samples, lower, upper, *, marker=False):
    # one collection for all sample paths: 400 separate lines would dominate the run time
    paths = np.stack([np.broadcast_to(x, samples.shape), samples], axis=-1)
    ax.add_collection(LineCollection(paths, colors=SAMPLE_COLOR, linewidths=0.4, alpha=0.12))
    if marker:
        ax.scatter(
            np.broadcast_to(x, samples.shape), samples, s=1.5, color=SAMPLE_COLOR, alpha=0.12, lw=0
        )
    ax.plot([], [], color=SAMPLE_COLOR, lw=0.8, label=f"{len(samples)} conditional samples")
    ax.fill_between(x, lower, upper, color=MODEL_COLOR, alpha=0.18, lw=0, label="95% band")
    ax.plot(x, lower, color=MODEL_COLOR, lw=0.9, ls="--")
    ax.plot(x, upper, color=MODEL_COLOR, lw=0.9, ls="--")
    ax.plot(x, conditional.mean, color=DATA_COLOR, lw=1.8, label="conditional mean")


def _entry(conditional, samples, lower, upper):
    return {
        "mean": conditional.mean,
        "std": np.sqrt(np.diag(conditional.cov)),
        "lower": lower,
        "upper": upper,
        "sample_coverage": band_coverage(samples, lower, upper),
        "n_samples": len(samples),
    }


@figure_main
def main(out_dir, mode):
    config = gp.GPConfig()
    mu = gp.joint_uv(config)
    grid = gp.plot_grid(W_POINTS[mode])
    mu_w = gp.joint_wv(grid, config)
    x_obs = gp.observation_points(config.n_u, config.layout)
    index = np.arange(1, config.n_v + 1)
    rng = np.random.default_rng(SEED)
    u_draw, v_draw = (a[0] for a in mu.sample(1, rng))

    fig, axes = new_figure(mode, 1, 3, panel_size=(3.7, 3.1))
    numbers = {
        "config": config,
        "observation_points": x_obs,
        "realization": {"u": u_draw, "v": v_draw},
        "canonical_correlations": mu.canonical_correlations(),
        "mutual_information": mu.mutual_information(),
        "level": LEVEL,
        "seed": SEED,
    }
    panels = [
        ("w_given_v", mu_w.conditional("u", v_draw), grid, False),
        ("u_given_v", mu.conditional("u", v_draw), x_obs, True),
        ("v_given_u", mu.conditional("v", u_draw), index, True),
    ]
    for ax, (key, conditional, x, marker) in zip(axes[0], panels, strict=True):
        samples = conditional.sample(N_SAMPLES, rng)
        lower, upper = gaussian_band(conditional, LEVEL)
        _panel(ax, x, conditional, samples, lower, upper, marker=marker)
        numbers[key] = _entry(conditional, samples, lower, upper)
        numbers[key]["x"] = x
    # the realization each data panel conditions on or should cover
    axes[0, 1].plot(
        x_obs, u_draw, "x", color=REALIZATION_COLOR, ms=6, mew=1.6, label="drawn (u, v)"
    )
    axes[0, 2].plot(index, v_draw, "x", color=REALIZATION_COLOR, ms=7, mew=1.6)
    numbers["u_given_v"]["realization_inside_band"] = band_coverage(
        u_draw[None, :], numbers["u_given_v"]["lower"], numbers["u_given_v"]["upper"]
    )
    numbers["v_given_u"]["realization_inside_band"] = band_coverage(
        v_draw[None, :], numbers["v_given_u"]["lower"], numbers["v_given_u"]["upper"]
    )
    axes[0, 0].set(title=r"process $w\,|\,v$", xlabel="x", ylabel="w(x)", xlim=(0, 1))
    axes[0, 1].set(
        title=rf"observations $u\,|\,v$ ($n_u = {config.n_u}$)",
        xlabel=r"observation point $x_i$",
        ylabel=r"$u_i$",
        xlim=(0, 1),
    )
    axes[0, 2].set(
        title=rf"KL coefficients $v\,|\,u$ ($n_v = {config.n_v}$)",
        xlabel="mode j",
        ylabel=r"$v_j$",
        xticks=index,
    )
    handles, labels = axes[0, 1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    fig.suptitle(TITLE)
    save_figure(fig, out_dir, STEM, mode, TITLE, numbers)
