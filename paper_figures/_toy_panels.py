"""The four-panel layout of Figures 2-4: the learned conditionals nu_{u|v}, nu_{v|u} (top) and
marginals nu_u, nu_v (bottom) of one loss x tilting pair on the 2-D example, against the data
mu. Every density comes from ``gc.minimize`` / ``gc.tilted`` / ``gc.tilted_conditional``."""

import gaussclip as gc
from gaussclip.data import toy
from gaussclip.summaries import moments_1d

from ._common import (
    COMPARE_COLOR,
    DATA_COLOR,
    MODEL_COLOR,
    grid_1d,
    new_figure,
    save_figure,
    setting_label,
)

#: The value of v (for u|v) and of u (for v|u) the conditional panels condition on: about
#: 1.2 standard deviations of the marginals, where biased means are easy to see.
GIVEN = 1.5
#: The axes show [-X_LIMIT, X_LIMIT]; densities are evaluated on the wider grid of _common.
X_LIMIT = 5.0


def solve(mu, loss, tilting, weights=(1.0, 1.0)):
    """The minimizer of a loss x tilting pair (the joint loss takes no weights)."""
    return gc.minimize(mu, loss, tilting, weights=weights)


def _model_conditional(mu, sol, side):
    return gc.tilted_conditional(mu, side, [GIVEN], sol.A, sol.B, sol.C)


def _panels(mu):
    """(key, side, title, x label, data distribution) of the four panels."""
    other = {"u": "v", "v": "u"}
    conditionals = [
        (
            f"conditional_{side}",
            side,
            rf"conditional of ${side}$ given ${other[side]} = {GIVEN:g}$",
            side,
            mu.conditional(side, [GIVEN]),
        )
        for side in ("u", "v")
    ]
    marginals = [
        (f"marginal_{side}", side, rf"marginal of ${side}$", side, mu.marginal(side))
        for side in ("u", "v")
    ]
    return conditionals + marginals


def _model_distribution(mu, sol, key, side):
    if key.startswith("conditional"):
        return _model_conditional(mu, sol, side)
    return sol.model.marginal(side)


def _summary(dist):
    return {"mean": float(dist.mean[0]), "var": float(dist.cov[0, 0])}


def _solution_numbers(sol):
    return {
        "loss": sol.loss,
        "tilting": sol.tilting,
        "weights": list(sol.weights),
        "rank": sol.rank,
        "method": sol.method,
        "objective": sol.objective,
        "A": sol.A,
        "B": sol.B,
        "C": sol.C,
        "G": sol.G,
        "H": sol.H,
        "model_cov": sol.model.cov,
    }


def conditionals_and_marginals(out_dir, mode, stem, title, sol, compare=None):
    """Draw and save the four panels for the solution ``sol`` of the 2-D example.

    ``compare`` (another Solution) is drawn dotted in every panel, for claims of the form
    "closer than".
    """
    mu = toy.joint()
    x = grid_1d(mode)
    label = setting_label(sol.loss, sol.tilting, sol.weights)
    fig, axes = new_figure(mode, 2, 2, panel_size=(3.6, 2.6))
    numbers = {
        "data_cov": mu.cov,
        "given": GIVEN,
        "solution": _solution_numbers(sol),
        "grid_half_width": float(x[-1]),
        "grid_points": x.size,
    }
    if compare is not None:
        numbers["compare_solution"] = _solution_numbers(compare)
    for ax, (key, side, panel_title, xlabel, data) in zip(axes.ravel(), _panels(mu), strict=True):
        model = _model_distribution(mu, sol, key, side)
        data_pdf, model_pdf = data.pdf(x[:, None]), model.pdf(x[:, None])
        # the model first and wider, so the data curve stays visible where they coincide
        ax.plot(x, model_pdf, color=MODEL_COLOR, lw=2.6, label=rf"learned $\nu$: {label}")
        ax.fill_between(x, model_pdf, color=MODEL_COLOR, alpha=0.15, lw=0)
        ax.plot(x, data_pdf, color=DATA_COLOR, lw=1.3, label=r"data $\mu$")
        entry = {
            "data": _summary(data),
            "model": _summary(model),
            "model_grid": moments_1d(x, model_pdf),
            "data_grid": moments_1d(x, data_pdf),
        }
        text = (
            f"$\\mu$: mean {entry['data']['mean']:.3f}, var {entry['data']['var']:.3f}\n"
            f"$\\nu$: mean {entry['model']['mean']:.3f}, var {entry['model']['var']:.3f}"
        )
        if compare is not None:
            other = _model_distribution(mu, compare, key, side)
            other_pdf = other.pdf(x[:, None])
            compare_label = setting_label(compare.loss, compare.tilting, compare.weights)
            ax.plot(x, other_pdf, color=COMPARE_COLOR, lw=1.4, ls=":", label=compare_label)
            entry["compare"] = _summary(other)
            text += (
                f"\n{compare.loss} × {compare.tilting}: mean {entry['compare']['mean']:.3f}, "
                f"var {entry['compare']['var']:.3f}"
            )
        ax.text(0.02, 0.97, text, transform=ax.transAxes, va="top", fontsize=7.5)
        ax.set(title=panel_title, xlabel=xlabel, ylabel="density", xlim=(-X_LIMIT, X_LIMIT))
        ax.set_ylim(bottom=0.0, top=1.35 * max(data_pdf.max(), model_pdf.max()))
        numbers[key] = entry
    handles, labels = axes[0, 0].get_legend_handles_labels()
    order = [1, 0, *range(2, len(handles))]  # data first
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    fig.suptitle(title)
    return save_figure(fig, out_dir, stem, mode, title, numbers)
