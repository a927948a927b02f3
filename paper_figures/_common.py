"""Machinery shared by the figure scripts: modes, style, grids, saving, parallel sweeps.

Nothing here computes a result of the paper; the scripts get every number from ``gaussclip``.

* Modes: ``"full"`` (paper settings, fine grids), ``"quick"`` (``make figures``: every phenomenon
  visible, small grids/epochs) and ``"tiny"`` (the smoke test: the smallest size that still
  exercises every code path).
* :func:`save_figure` writes ``figNN_<slug>.png`` and ``figNN_<slug>.json`` atomically: the JSON
  holds the numbers the figure shows, so results can be checked without looking at pixels.
* :func:`sweep` runs independent sweep points as joblib jobs. It takes ``n_jobs`` and the
  backend from :func:`joblib.parallel_config` (``python -m paper_figures --jobs N`` sets it), so
  ``with joblib.parallel_config(backend="dask"): script.main(out, "full")`` moves a sweep to a
  cluster without code changes.
"""

import functools
import io
import re
from pathlib import Path

import joblib
import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tqdm import tqdm

import gaussclip as gc
from gaussclip.io import atomic_write_bytes, atomic_write_json

MODES = ("tiny", "quick", "full")

#: Points of 1-D density grids on [-GRID_HALF_WIDTH, GRID_HALF_WIDTH]. Even counts keep 0 off the
#: grid (the cosine model's density jumps there, and 0 is then a cell midpoint).
GRID_1D = {"tiny": 140, "quick": 700, "full": 1400}
#: Points per axis of 2-D density meshes.
GRID_2D = {"tiny": 70, "quick": 280, "full": 560}
#: Densities are evaluated (and their moments integrated) on [-7, 7]: at least 4.2 standard
#: deviations for every model of the 2-D example, so the grid moments match the exact ones to
#: ~1e-4. The axes show the central part only (AXIS_LIMIT).
GRID_HALF_WIDTH = 7.0
AXIS_LIMIT = 4.5
#: PNG resolution.
DPI = {"tiny": 40, "quick": 110, "full": 200}

#: Colours: the data distribution mu in black, the learned model nu in blue, a second model
#: shown for comparison in orange.
DATA_COLOR = "black"
MODEL_COLOR = "#1f77b4"
COMPARE_COLOR = "#ff7f0e"
SAMPLE_COLOR = "0.55"
DENSITY_CMAP = "Blues"

STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "legend.frameon": False,
    "figure.constrained_layout.use": True,
}

_STEM = re.compile(r"^fig(\d\d)_[a-z0-9_]+$")


def check_mode(mode):
    """Validate ``mode`` (one of :data:`MODES`)."""
    if mode not in MODES:
        raise gc.OptionError(f"`mode` must be one of {', '.join(map(repr, MODES))}; got {mode!r}.")
    return mode


def setting_label(loss, tilting, weights=None):
    """``"cond × inner, (λ_u, λ_v) = (1, 1)"`` (in mathtext): a loss x tilting pair in the
    engine's vocabulary; the weights are shown for the conditional loss only."""
    label = f"{loss} × {tilting}"
    if loss == "cond" and weights is not None:
        label += rf", $(\lambda_u, \lambda_v) = ({weights[0]:g}, {weights[1]:g})$"
    return label


def figure_main(function):
    """Decorator for a script's ``main(out_dir, mode)``: checks ``mode``, makes ``out_dir`` a
    :class:`~pathlib.Path` (created if missing) and draws under the shared style."""

    @functools.wraps(function)
    def main(out_dir, mode="quick"):
        check_mode(mode)
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        with matplotlib.rc_context(STYLE):
            return function(out_dir, mode)

    return main


def new_figure(mode, nrows, ncols, panel_size=(3.4, 2.8)):
    """A figure on an Agg canvas (no pyplot state) and its ``(nrows, ncols)`` axes array."""
    fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows), dpi=DPI[mode])
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def grid_1d(mode):
    """The 1-D evaluation grid of ``mode`` (never contains 0)."""
    return np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, GRID_1D[mode])


def grid_2d(mode):
    """The per-axis grid of 2-D meshes of ``mode`` (never contains 0)."""
    return np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, GRID_2D[mode])


def density_on_mesh(logpdf, x, y):
    """``exp(logpdf(u, v))`` on the mesh ``x`` by ``y`` for a joint log density taking rows
    ``u`` (n, 1), ``v`` (n, 1); returns a (len(y), len(x)) array (``contourf`` layout)."""
    xx, yy = np.meshgrid(x, y)
    values = logpdf(xx.reshape(-1, 1), yy.reshape(-1, 1))
    return np.exp(np.asarray(values)).reshape(xx.shape)


def density_levels(*densities, count=11):
    """``count`` shared contour levels (0 excluded) for densities drawn on one colour scale."""
    top = max(float(np.max(d)) for d in densities)
    return np.linspace(0.0, top, count + 1)[1:]


def joint_density_panel(ax, x, density, levels, *, contours, title):
    """A (u, v) panel: ``density`` filled on the mesh ``x`` by ``x``, ``contours`` (usually the
    data density) drawn as lines on top; returns the filled contour set (for a colour bar)."""
    filled = ax.contourf(x, x, density, levels=levels, cmap=DENSITY_CMAP, extend="max")
    ax.contour(x, x, contours, levels=levels[::2], colors=DATA_COLOR, linewidths=0.6)
    ax.set(
        title=title,
        xlabel="u",
        ylabel="v",
        xlim=(-AXIS_LIMIT, AXIS_LIMIT),
        ylim=(-AXIS_LIMIT, AXIS_LIMIT),
        aspect="equal",
    )
    return filled


def jsonable(value):
    """Convert numpy arrays and scalars (also inside dicts, lists, dataclasses) for JSON."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float):
        return float(value)  # also turns Estimate (a float subclass) into a plain float
    if hasattr(value, "__dataclass_fields__"):
        return {name: jsonable(getattr(value, name)) for name in value.__dataclass_fields__}
    return value


def save_figure(fig, out_dir, stem, mode, title, numbers):
    """Write ``<stem>.png`` and ``<stem>.json`` into ``out_dir`` atomically.

    The JSON holds ``figure`` (the number), ``stem``, ``title``, ``mode``, the gaussclip version
    and ``numbers`` (the values the figure shows). Returns the two paths.
    """
    match = _STEM.match(stem)
    if not match:
        raise gc.OptionError(f"`stem` must look like 'figNN_<slug>'; got {stem!r}.")
    out_dir = Path(out_dir)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI[mode])
    png = atomic_write_bytes(out_dir / f"{stem}.png", buffer.getvalue())
    record = {
        "figure": int(match.group(1)),
        "stem": stem,
        "title": title,
        "mode": mode,
        "gaussclip_version": gc.__version__,
        "layout": {"titles_under_suptitle": titles_under_suptitle(fig)},
        "numbers": jsonable(numbers),
    }
    json_path = atomic_write_json(out_dir / f"{stem}.json", record)
    return png, json_path


def titles_under_suptitle(fig):
    """Panel titles whose drawn box overlaps the figure's suptitle (as laid out by the last
    draw): a list of their texts, empty when the layout is clean."""
    suptitle = fig._suptitle
    if suptitle is None or not suptitle.get_text():
        return []
    renderer = fig.canvas.get_renderer()
    top = suptitle.get_window_extent(renderer)
    hits = []
    for ax in fig.axes:
        for text in (ax.title, ax._left_title, ax._right_title):
            if text.get_text() and text.get_window_extent(renderer).overlaps(top):
                hits.append(text.get_text())
    return hits


#: Results of the sweep points computed so far in this process, by (function, point): Figures
#: 8-10 share a point (n_e = 5, N = 10,000, batch 512), which is then trained once.
_SWEEP_RESULTS = {}


def _sweep_key(function, point):
    try:
        key = (function.__module__, function.__qualname__, point)
        hash(key)
    except (AttributeError, TypeError):  # an unhashable point: always computed
        return None
    return key


def sweep(function, points, description="sweep"):
    """``[function(p) for p in points]`` with every point an independent joblib job.

    ``function`` must be a deterministic function of the point: a point already computed in
    this process (same function, equal point) is not computed again. ``n_jobs`` and the backend
    come from the enclosing :func:`joblib.parallel_config` (one job when there is none); results
    keep the order of ``points``. A tqdm bar shows progress on a terminal and stays quiet
    otherwise.
    """
    points = list(points)
    keys = [_sweep_key(function, p) for p in points]
    todo, seen = [], set()
    for i, key in enumerate(keys):
        if key is None or (key not in _SWEEP_RESULTS and key not in seen):
            todo.append(i)
            seen.add(key)
    results = joblib.Parallel(return_as="generator")(
        joblib.delayed(function)(points[i]) for i in todo
    )
    fresh = list(tqdm(results, total=len(todo), desc=description, disable=None, leave=False))
    computed = dict(zip(todo, fresh, strict=True))
    for i, result in computed.items():
        if keys[i] is not None:
            _SWEEP_RESULTS[keys[i]] = result
    return [computed[i] if i in computed else _SWEEP_RESULTS[key] for i, key in enumerate(keys)]
