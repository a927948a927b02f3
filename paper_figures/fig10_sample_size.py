"""Figure 10: the same experiment with n_e = 5 and batch 512 for N = 1,000..50,000 training
pairs. Both the empirical optimum (sampling error, ~1/N) and the trained model improve with N."""

from pathlib import Path

from ._common import figure_main
from ._gp_sweep import sweep_figure

STEM = Path(__file__).stem
TITLE = "Figure 10: conditional means against the number of samples N (n_e = 5, batch 512)"
VALUES = {
    "tiny": (300, 600),
    "quick": (1000, 2000, 5000, 10_000, 20_000, 50_000),
    "full": (1000, 2000, 5000, 10_000, 20_000, 50_000),
}


@figure_main
def main(out_dir, mode):
    return sweep_figure(
        out_dir,
        mode,
        stem=STEM,
        title=TITLE,
        field="n_samples",
        values=VALUES[mode],
        label="N",
        log_x=True,
        fixed={},
    )
