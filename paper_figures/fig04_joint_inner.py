"""Figure 4: joint x inner (the joint loss KL(mu || nu) with unnormalized linear encoders,
Section 5.3). The marginals are closer to the data than those of cond x inner (dotted), at the
price of biased conditional means (Theorem 5.6, Corollary 5.7)."""

from pathlib import Path

from gaussclip.data import toy

from ._common import figure_main, setting_label
from ._toy_panels import conditionals_and_marginals, solve

STEM = Path(__file__).stem
TITLE = (
    f"Figure 4: {setting_label('joint', 'inner')}: marginals closer than "
    f"{setting_label('cond', 'inner')}, means biased (Thm 5.6)"
)


@figure_main
def main(out_dir, mode):
    mu = toy.joint()
    sol = solve(mu, "joint", "inner")
    compare = solve(mu, "cond", "inner", weights=(1.0, 1.0))
    conditionals_and_marginals(out_dir, mode, STEM, TITLE, sol, compare=compare)
