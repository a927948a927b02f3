"""The paper, machine-checked: one SymPy check per result, behind ``gaussclip verify``.

Each check derives a theorem, lemma, corollary or key equation of the paper from its definitions
(Gaussian densities, tiltings, KL divergences) with SymPy, independently of gaussclip's numerical
engine, and fails when the derivation disagrees with the statement. Every check has a *negative
twin*, a deliberately wrong variant of the statement that the same derivation must reject, so no
check can pass vacuously. The paper's errata found this way are listed in ``docs/ERRATA.md``.

>>> from gaussclip import symbolic
>>> [result.status for result in symbolic.run(["def-5.5"])]
['ok']

Modules: :mod:`._core` (registry and SymPy helpers), :mod:`.learning` (Sections 2-4, 6,
Appendix B), :mod:`.gaussian_models` (Section 5, Appendices D-E) and :mod:`.extensions` (the
closed forms gaussclip adds beyond the paper).
"""

import json
import sys

from ..errors import OptionError
from . import extensions, gaussian_models, learning  # importing them fills the registry
from ._core import REGISTRY, Check, CheckFailed, Result, execute

__all__ = ["Check", "CheckFailed", "Result", "checks", "run", "run_cli", "run_twins"]


#: Checks are listed in the paper's order: Sections 2-4 and 6, Section 5 with Appendices D-E,
#: then gaussclip's own closed forms.
_MODULE_ORDER = (learning.__name__, gaussian_models.__name__, extensions.__name__)


def checks():
    """Every registered :class:`Check`, in the paper's order (registration order per module)."""
    return sorted(REGISTRY.values(), key=lambda check: _MODULE_ORDER.index(check.run.__module__))


def _select(ids):
    if ids is None:
        return checks()
    if isinstance(ids, str):
        ids = [ids]
    unknown = [check_id for check_id in ids if check_id not in REGISTRY]
    if unknown:
        raise OptionError(
            f"`ids` must name registered checks, e.g. {sorted(REGISTRY)[:3]}; got unknown "
            f"{unknown}. Run `gaussclip verify` to list all {len(REGISTRY)} checks."
        )
    return [REGISTRY[check_id] for check_id in ids]


def run(ids=None):
    """Run the checks named by ``ids`` (a list of ids or one id; all when ``None``); a list of
    :class:`Result`. Unknown ids raise :class:`gaussclip.OptionError`."""
    return [execute(check) for check in _select(ids)]


def run_twins(ids=None):
    """Run the negative twins; each :class:`Result` must have ``status == "fail"``."""
    return [execute(check, twin=True) for check in _select(ids)]


def _table(results):
    widths = (max(len(r.id) for r in results), max(len(r.method) for r in results))
    lines = [f"{'id':<{widths[0]}}  {'method':<{widths[1]}}  status  seconds  statement"]
    for r in results:
        lines.append(
            f"{r.id:<{widths[0]}}  {r.method:<{widths[1]}}  {r.status:<6}  {r.seconds:7.2f}  "
            f"{r.statement}"
        )
        if r.detail:
            lines.append(f"{'':<{widths[0]}}  -> {r.detail}")
    failed = sum(r.status != "ok" for r in results)
    total = sum(r.seconds for r in results)
    lines.append(f"{len(results) - failed} of {len(results)} checks ok in {total:.1f} s")
    return "\n".join(lines)


def run_cli(only=None, as_json=False):
    """``gaussclip verify``: print a table (or JSON); exit status 0 when every check is ok,
    1 when one fails, 2 for an unknown id."""
    try:
        selected = _select(only)
    except OptionError as exc:
        print(f"gaussclip verify: {exc}", file=sys.stderr)
        return 2
    results = []
    for check in selected:
        results.append(execute(check))
        if not as_json:
            print(f"  {check.id}: {results[-1].status}", file=sys.stderr, flush=True)
    if as_json:
        print(json.dumps([r.as_dict() for r in results], indent=1))
    else:
        print(_table(results))
    return 0 if all(r.status == "ok" for r in results) else 1
