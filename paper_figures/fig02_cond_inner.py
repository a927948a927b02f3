"""Figure 2: cond x inner with weights (1, 1) (CLIP with unnormalized linear encoders,
Section 5.1). The learned conditionals have the true means but the marginal variances
(Theorem 5.1, Corollary 5.2)."""

from pathlib import Path

from gaussclip.data import toy

from ._common import figure_main, setting_label
from ._toy_panels import conditionals_and_marginals, solve

STEM = Path(__file__).stem
WEIGHTS = (1.0, 1.0)
TITLE = (
    f"Figure 2: {setting_label('cond', 'inner', WEIGHTS)}: "
    "means matched, variances inflated (Thm 5.1)"
)


@figure_main
def main(out_dir, mode):
    sol = solve(toy.joint(), "cond", "inner", weights=WEIGHTS)
    conditionals_and_marginals(out_dir, mode, STEM, TITLE, sol)
