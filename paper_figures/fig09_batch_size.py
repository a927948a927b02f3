"""Figure 9: the same experiment with n_e = 5 and N = 10,000 for batch sizes 32..2048. Larger
batches make the empirical loss L^N a better stand-in for the population loss, and the trained
conditional means approach the empirical optimum."""

from pathlib import Path

from ._common import figure_main
from ._gp_sweep import sweep_figure

STEM = Path(__file__).stem
TITLE = "Figure 9: conditional means against the batch size (n_e = 5, N = 10,000)"
VALUES = {
    "tiny": (25, 100),
    "quick": (32, 64, 128, 256, 512, 1024, 2048),
    "full": (32, 64, 128, 256, 512, 1024, 2048),
}


@figure_main
def main(out_dir, mode):
    return sweep_figure(
        out_dir,
        mode,
        stem=STEM,
        title=TITLE,
        field="batch_size",
        values=VALUES[mode],
        label="batch size",
        log_x=True,
        fixed={},
    )
