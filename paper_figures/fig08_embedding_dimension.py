"""Figure 8: linear CLIP encoders on the Section 6.1 Gaussian process, trained with the
two-sided conditional loss for embedding dimensions n_e = 1..7 (N = 10,000, batch 512). The
error falls with n_e and stops at n_e = min(n_u, n_v) = 5, where Theorem 5.1's optimum is exact."""

from pathlib import Path

from ._common import figure_main
from ._gp_sweep import sweep_figure

STEM = Path(__file__).stem
TITLE = "Figure 8: conditional means against the embedding dimension n_e (N = 10,000, batch 512)"
VALUES = {"tiny": (1, 5), "quick": (1, 2, 3, 4, 5, 6, 7), "full": (1, 2, 3, 4, 5, 6, 7)}


@figure_main
def main(out_dir, mode):
    return sweep_figure(
        out_dir,
        mode,
        stem=STEM,
        title=TITLE,
        field="n_e",
        values=VALUES[mode],
        label="$n_e$",
        log_x=False,
        fixed={},
    )
