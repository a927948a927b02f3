"""Figure 6: normalized (cosine) encoders on the 2-D example, cond x cosine with weights (1, 1)
and n_e = 1 (Section 5.4, last part). In 1-D a normalized encoder only sees sign(u), so the
learned nu tilts mu_u x mu_v by exp(kappa sign(u) sign(v)): its conditionals are two
half-Gaussians glued with a jump at 0, and the joint is non-Gaussian but positively
correlated. The engine minimizes the exact 1-D objective numerically."""

from pathlib import Path

import numpy as np

import gaussclip as gc
from gaussclip.data import toy
from gaussclip.summaries import moments_1d, moments_2d

from ._common import (
    DATA_COLOR,
    MODEL_COLOR,
    density_levels,
    density_on_mesh,
    figure_main,
    grid_1d,
    grid_2d,
    joint_density_panel,
    new_figure,
    save_figure,
    setting_label,
)
from ._toy_panels import GIVEN, X_LIMIT

STEM = Path(__file__).stem
WEIGHTS = (1.0, 1.0)
TITLE = (
    f"Figure 6: {setting_label('cond', 'cosine', WEIGHTS)}, $n_e = 1$: "
    "non-Gaussian conditionals and joint"
)
#: Offset either side of 0 at which the jump of the conditional density is measured.
JUMP_OFFSET = 1e-9


def _plot_split_at_zero(ax, x, y, **kwargs):
    """Plot a density with a jump at 0 as two pieces, so the jump shows as a gap."""
    left = x < 0
    ax.plot(x[left], y[left], **kwargs)
    kwargs.pop("label", None)
    ax.plot(x[~left], y[~left], **kwargs)


@figure_main
def main(out_dir, mode):
    mu = toy.joint()
    sol = gc.minimize(mu, "cond", "cosine", weights=WEIGHTS, rank=1, seed=0)
    model = sol.model
    x = grid_1d(mode)
    one = np.ones((1, 1))
    numbers = {
        "data_cov": mu.cov,
        "given": GIVEN,
        "solution": {
            "loss": sol.loss,
            "tilting": sol.tilting,
            "weights": sol.weights,
            "rank": sol.rank,
            "method": sol.method,
            "objective": sol.objective,
            "temperature": sol.temperature,
            "G": sol.G,
            "H": sol.H,
            "certificate": sol.certificate,
        },
        # <g_u(1)/|g_u(1)|, g_v(1)/|g_v(1)|> / temperature: the tilt exp(kappa sign(u) sign(v))
        "kappa": model.similarity(one, one)[0],
        "model_exact": model.exact,
        "kl_data_model": gc.population_loss(mu, "joint", "cosine", G=sol.G, H=sol.H),
        "grid_half_width": float(x[-1]),
        "grid_points": x.size,
    }

    fig, axes = new_figure(mode, 1, 3, panel_size=(3.4, 3.0))
    given = np.full((x.size, 1), GIVEN)
    for ax, side in zip(axes[0, :2], ("u", "v"), strict=True):
        other = "v" if side == "u" else "u"
        data_pdf = mu.conditional(side, [GIVEN]).pdf(x[:, None])
        model_pdf = np.exp(model.conditional_logpdf(side, x[:, None], given))
        _plot_split_at_zero(
            ax, x, model_pdf, color=MODEL_COLOR, lw=2.4, label=r"learned $\nu$ (cosine)"
        )
        ax.fill_between(x, model_pdf, color=MODEL_COLOR, alpha=0.15, lw=0)
        ax.plot(x, data_pdf, color=DATA_COLOR, lw=1.3, label=r"data $\mu$")
        jump = model.conditional_logpdf(side, [[JUMP_OFFSET], [-JUMP_OFFSET]], [[GIVEN], [GIVEN]])
        entry = {
            "data_grid": moments_1d(x, data_pdf),
            "model_grid": moments_1d(x, model_pdf),
            "density_ratio_across_zero": float(np.exp(jump[0] - jump[1])),
        }
        numbers[f"conditional_{side}"] = entry
        numbers[f"marginal_{side}_max_abs_log_error"] = float(
            np.max(
                np.abs(
                    model.marginal_logpdf(side, x[:, None]) - mu.marginal(side).logpdf(x[:, None])
                )
            )
        )
        ax.text(
            0.03,
            0.74,
            f"$\\mu$: mean {entry['data_grid'].mean:.3f}, var {entry['data_grid'].var:.3f}\n"
            f"$\\nu$: mean {entry['model_grid'].mean:.3f}, var {entry['model_grid'].var:.3f}",
            transform=ax.transAxes,
            va="top",
            fontsize=7.5,
        )
        ax.set(
            title=f"conditional of ${side}$ given ${other} = {GIVEN:g}$",
            xlabel=side,
            ylabel="density",
            xlim=(-X_LIMIT, X_LIMIT),
        )
        ax.set_ylim(bottom=0.0, top=1.8 * max(data_pdf.max(), model_pdf.max()))
        ax.legend(loc="upper left")

    ax = axes[0, 2]
    mesh = grid_2d(mode)
    joint = density_on_mesh(model.logpdf, mesh, mesh)
    target = density_on_mesh(mu.logpdf, mesh, mesh)
    levels = density_levels(joint, target)
    filled = joint_density_panel(
        ax,
        mesh,
        joint,
        levels,
        contours=target,
        title=r"joint $\nu$ (filled), target $\mu$ (contours)",
    )
    fig.colorbar(filled, ax=ax, shrink=0.8, label=r"density of $\nu$", format="%.2f")
    numbers["joint_grid"] = moments_2d(mesh, mesh, joint)
    numbers["target_grid"] = moments_2d(mesh, mesh, target)
    numbers["mesh_points"] = mesh.size
    fig.suptitle(TITLE)
    save_figure(fig, out_dir, STEM, mode, TITLE, numbers)
