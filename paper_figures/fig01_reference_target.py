"""Figure 1: the reference measure mu_u x mu_v (left) that every model tilts, and the target
mu = N(0, [[1.5, 1], [1, 1.5]]) of Section 5.4 (right)."""

from pathlib import Path

import numpy as np

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
)

STEM = Path(__file__).stem
TITLE = r"Figure 1: reference $\mu_u\otimes\mu_v$ and target $\mu$ (Section 5.4)"


@figure_main
def main(out_dir, mode):
    mu = toy.joint()
    # The product of the marginals is the tilting with A = 0 (no coupling), eq. (40).
    reference = gc.tilted(mu, A=np.zeros((mu.n_u, mu.n_v)))
    x = grid_2d(mode)
    panels = [
        ("reference", r"reference $\mu_u\otimes\mu_v$", reference),
        ("target", r"target $\mu = N(0, \mathcal{C})$", mu),
    ]
    densities = {key: density_on_mesh(dist.logpdf, x, x) for key, _, dist in panels}
    levels = density_levels(*densities.values())

    fig, axes = new_figure(mode, 1, 2, panel_size=(3.6, 3.3))
    numbers = {"grid_half_width": float(x[-1]), "grid_points": x.size}
    for ax, (key, label, dist) in zip(axes[0], panels, strict=True):
        filled = joint_density_panel(
            ax, x, densities[key], levels, contours=densities[key], title=label
        )
        grid = moments_2d(x, x, densities[key])
        numbers[key] = {"cov": dist.cov, "mean": dist.mean, "grid": grid}
    fig.colorbar(filled, ax=axes[0].tolist(), shrink=0.8, label="density", format="%.2f")
    fig.suptitle(TITLE)
    numbers["canonical_correlation"] = mu.canonical_correlations()[0]
    numbers["mutual_information"] = mu.mutual_information()
    numbers["kl_target_reference"] = gc.kl_divergence(mu, reference)
    save_figure(fig, out_dir, STEM, mode, TITLE, numbers)
