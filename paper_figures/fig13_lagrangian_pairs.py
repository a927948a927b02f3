"""Figure 13: two (potential, trajectory) pairs of the Section 6.3 data set: the potential psi at
t = 0 on the torus [0, 1]^2 and the tracer released at x0 = (0.75, 0.75), integrated by RK4
(dt = 1e-5, T = 0.1, 1000 recorded points) in the time-dependent flow w = J grad psi."""

from pathlib import Path

import numpy as np

from gaussclip.data import lagrangian as lag
from gaussclip.experiments import lagrangian as experiment

from ._common import figure_main, new_figure, save_figure
from ._lagrangian_panels import draw_potential, draw_trajectory, potential_grid

STEM = Path(__file__).stem
TITLE = "Figure 13: potentials at t = 0 and their tracer trajectories (Section 6.3)"
SAMPLES = (0, 1)


@figure_main
def main(out_dir, mode):
    config = experiment.preset(mode)
    train, _ = experiment.load_data(config)
    fig, axes = new_figure(mode, 1, len(SAMPLES), panel_size=(3.4, 3.4))
    numbers = {"params": train.params, "samples": []}
    for ax, index in zip(axes[0], SAMPLES, strict=True):
        x, psi = potential_grid(train, index, mode)
        trajectory = train.trajectories[index].astype(np.float64)
        draw_potential(ax, x, psi, title=f"training pair {index}: psi(x, 0) and trajectory")
        draw_trajectory(ax, trajectory)
        steps = np.linalg.norm(np.diff(trajectory, axis=0), axis=1)
        speed0 = lag.velocity(
            np.asarray([lag.X0]),
            0.0,
            train.complex_coefficients[index][None],
            train.freqs,
            train.wavevectors,
        )[0]
        numbers["samples"].append(
            {
                "index": index,
                "first_point": trajectory[0],
                "first_time": train.times[0],
                "velocity_at_x0": speed0,
                "path_length": float(np.sum(steps)),
                "reach": float(np.max(np.linalg.norm(trajectory - np.asarray(lag.X0), axis=1))),
                "psi_range": [float(psi.min()), float(psi.max())],
            }
        )
    fig.suptitle(TITLE)
    return save_figure(fig, out_dir, STEM, mode, TITLE, numbers)


def prepare(mode):
    """Background work of :func:`main` (``python -m paper_figures``): the simulated pairs."""
    from ._lagrangian_panels import prepare_data

    return prepare_data(mode)
