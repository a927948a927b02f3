"""Figure 5: the three learned joint densities nu of Figures 2-4 (filled), each against the
target mu (black contours): cond x inner inflates both variances, cond x quadratic (2, 0)
shrinks them, joint x inner comes closest to mu (smallest KL(mu || nu))."""

from pathlib import Path

import gaussclip as gc
from gaussclip.data import toy
from gaussclip.summaries import moments_2d

from ._common import (
    density_levels,
    density_on_mesh,
    figure_main,
    grid_2d,
    joint_density_panel,
    new_figure,
    save_figure,
    setting_label,
)

STEM = Path(__file__).stem
TITLE = r"Figure 5: learned joint densities $\nu$ (filled) against the target $\mu$ (contours)"
#: (key, loss, tilting, weights) of the three panels, left to right.
SETTINGS = (
    ("cond_inner", "cond", "inner", (1.0, 1.0)),
    ("cond_quadratic_2_0", "cond", "quadratic", (2.0, 0.0)),
    ("joint_inner", "joint", "inner", (1.0, 1.0)),
)


@figure_main
def main(out_dir, mode):
    mu = toy.joint()
    x = grid_2d(mode)
    target = density_on_mesh(mu.logpdf, x, x)
    solutions = {
        key: gc.minimize(mu, loss, tilting, weights=weights)
        for key, loss, tilting, weights in SETTINGS
    }
    densities = {key: density_on_mesh(sol.model.logpdf, x, x) for key, sol in solutions.items()}
    levels = density_levels(target, *densities.values())

    fig, axes = new_figure(mode, 1, 3, panel_size=(3.3, 3.3))
    numbers = {"data_cov": mu.cov, "grid_half_width": float(x[-1]), "grid_points": x.size}
    for ax, (key, loss, tilting, weights) in zip(axes[0], SETTINGS, strict=True):
        sol = solutions[key]
        title = setting_label(loss, tilting, weights)
        filled = joint_density_panel(ax, x, densities[key], levels, contours=target, title=title)
        kl = gc.kl_divergence(mu, sol.model)
        cov = sol.model.cov
        ax.text(
            0.03,
            0.97,
            f"KL($\\mu\\|\\nu$) = {kl:.3f}\nVar u = {cov[0, 0]:.3f}, Var v = {cov[1, 1]:.3f}",
            transform=ax.transAxes,
            va="top",
            fontsize=7.5,
        )
        numbers[key] = {
            "loss": loss,
            "tilting": tilting,
            "weights": weights,
            "objective": sol.objective,
            "model_cov": cov,
            "model_grid": moments_2d(x, x, densities[key]),
            "kl_data_model": kl,
        }
    fig.colorbar(filled, ax=axes[0].tolist(), shrink=0.7, label=r"density of $\nu$", format="%.2f")
    fig.suptitle(TITLE)
    save_figure(fig, out_dir, STEM, mode, TITLE, numbers)
