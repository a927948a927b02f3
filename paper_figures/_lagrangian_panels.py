"""Shared pieces of Figures 13-15: the background tasks (simulated data, the training run),
potentials on a grid and wrapped trajectories."""

import numpy as np

from gaussclip.data import lagrangian as lag
from gaussclip.experiments import lagrangian as experiment

from ._tasks import EpochPrinter, Task

DATA_TASK = "Lagrangian data"
TRAIN_TASK = "Lagrangian training"

#: Points per axis of the potential grid on [0, 1]^2, per mode.
GRID = {"tiny": 24, "quick": 80, "full": 120}
POTENTIAL_CMAP = "RdBu_r"
TRAJECTORY_COLOR = "black"


def prepare_data(mode):
    """Background task of Figure 13 (:mod:`paper_figures._tasks`): simulate and cache the
    train and test pairs."""
    config = experiment.preset(mode)
    return [Task(DATA_TASK, experiment.load_data, (config,), {"progress": False})]


def prepare_training(mode):
    """Background tasks of Figures 14-15: the data, then the training run."""
    config = experiment.preset(mode)
    kwargs = {"progress": False, "callbacks": [EpochPrinter(TRAIN_TASK, config.epochs)]}
    train = Task(TRAIN_TASK, experiment.train, (config,), kwargs, needs=(DATA_TASK,))
    return [*prepare_data(mode), train]


def potential_grid(data, index, mode, t=0.0):
    """(x, psi) with psi of sample ``index`` on the GRID[mode]^2 mesh at time ``t`` (rows: x2)."""
    x = np.linspace(0.0, 1.0, GRID[mode])
    xx, yy = np.meshgrid(x, x)
    points = np.column_stack([xx.ravel(), yy.ravel()])
    psi = lag.potential(
        points, t, data.complex_coefficients[index], data.freqs, data.wavevectors
    ).reshape(xx.shape)
    return x, psi


def draw_potential(ax, x, psi, *, title, levels=14):
    """Filled contours of a potential on [0, 1]^2 (a symmetric colour scale around 0)."""
    top = float(np.max(np.abs(psi)))
    ax.contourf(x, x, psi, levels=np.linspace(-top, top, levels), cmap=POTENTIAL_CMAP)
    ax.set(title=title, xlim=(0, 1), ylim=(0, 1), aspect="equal", xticks=[0, 1], yticks=[0, 1])
    ax.grid(False)


def draw_trajectory(ax, trajectory, color=TRAJECTORY_COLOR):
    """A trajectory wrapped onto the torus, with its release point."""
    for piece in lag.plot_segments(trajectory):  # the unwrapped path: split where it wraps
        ax.plot(piece[:, 0], piece[:, 1], color=color, lw=1.2)
    ax.plot(*lag.X0, "o", color=color, ms=4)
