"""Figure 3: cond x quadratic with weights (2, 0) (the one-sided loss matching u|v only,
Section 5.2). nu_{u|v} equals mu_{u|v} exactly (Theorem 5.3, Corollary 5.4); v|u is not
matched.

The paper's caption names "the cosine distance with the joint loss"; what it describes (and
what is plotted here) is the positive quadratic form with the one-sided conditional loss.
"""

from pathlib import Path

from gaussclip.data import toy

from ._common import figure_main, setting_label
from ._toy_panels import conditionals_and_marginals, solve

STEM = Path(__file__).stem
WEIGHTS = (2.0, 0.0)
TITLE = (
    f"Figure 3: {setting_label('cond', 'quadratic', WEIGHTS)}: "
    "u|v matched exactly, v|u not (Thm 5.3)"
)


@figure_main
def main(out_dir, mode):
    sol = solve(toy.joint(), "cond", "quadratic", weights=WEIGHTS)
    conditionals_and_marginals(out_dir, mode, STEM, TITLE, sol)
