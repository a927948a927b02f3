"""The symbolic checker: every check passes, every negative twin is rejected, the CLI works."""

import dataclasses
import json
import subprocess
import sys

import pytest

from gaussclip import OptionError, symbolic

#: The results of the paper the issue names, each of which must have a check.
PAPER_IDS = (
    "thm-2.8 thm-3.2 thm-3.8 thm-3.10 thm-4.2 thm-5.1 thm-5.1-rank cor-5.2 thm-5.3 cor-5.4 "
    "def-5.5 thm-5.6 cor-5.7 eq-40 eq-41 eq-47 eq-48 lem-E.1 lem-E.2 prop-6.1 rem-D.1 rem-D.2 "
    "rem-D.3 app-B"
).split()
#: The closed forms gaussclip adds beyond the paper (gaussclip/closed_forms.py).
EXTENSION_IDS = (
    "new-cond-inner-weights",
    "new-cond-quadratic-two-sided",
    "new-cond-quadratic-weights",
    "new-cond-quadratic-weights-rank",
    "new-joint-quadratic",
    "new-one-sided-rank",
)
METHODS = {
    "matrix-expression",
    "symbolic 2x2 blocks",
    "symbolic whitened pair",
    "symbolic scalar model",
    "symbolic finite sample",
    "1-D symbolic integral",
}
ALL_IDS = [check.id for check in symbolic.checks()]


@pytest.fixture(scope="module")
def results():
    """Each check and its twin run once for the whole module (about 30 s)."""
    return {r.id: r for r in symbolic.run()}, {r.id: r for r in symbolic.run_twins()}


def test_registry_covers_the_paper_and_the_extensions():
    assert len(ALL_IDS) >= 25
    assert len(set(ALL_IDS)) == len(ALL_IDS)
    missing = (set(PAPER_IDS) | set(EXTENSION_IDS)) - set(ALL_IDS)
    assert not missing, f"no check for {sorted(missing)}"
    for check in symbolic.checks():
        assert check.method in METHODS, check
        assert check.statement and check.twin, check


@pytest.mark.parametrize("check_id", ALL_IDS)
def test_check_passes(results, check_id):
    result = results[0][check_id]
    assert result.status == "ok", result.detail


@pytest.mark.parametrize("check_id", ALL_IDS)
def test_negative_twin_is_rejected(results, check_id):
    twin = results[1][check_id]
    assert twin.status == "fail", f"the twin ({symbolic.checks()[ALL_IDS.index(check_id)].twin})"
    assert twin.detail


def _verify(*args):
    return subprocess.run(
        [sys.executable, "-m", "gaussclip", "verify", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_json():
    done = _verify("--only", "thm-5.1", "def-5.5", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [row["id"] for row in rows] == ["thm-5.1", "def-5.5"]
    for row in rows:
        assert row["status"] == "ok"
        assert row["method"] in METHODS
        assert row["seconds"] >= 0


def test_cli_table():
    done = _verify("--only", "eq-40")
    assert done.returncode == 0, done.stderr
    header, row, summary = done.stdout.strip().splitlines()
    assert header.split()[:4] == ["id", "method", "status", "seconds"]
    assert row.startswith("eq-40") and " ok " in row
    assert summary.startswith("1 of 1 checks ok")


def test_cli_unknown_id_is_a_clear_error():
    done = _verify("--only", "thm-9.9")
    assert done.returncode == 2
    assert "thm-9.9" in done.stderr and "registered checks" in done.stderr


def test_a_failing_check_makes_verify_fail(monkeypatch, capsys):
    check = symbolic.REGISTRY["eq-40"]
    broken = dataclasses.replace(check, run=lambda twin: check.run(True))  # always the twin
    monkeypatch.setitem(symbolic.REGISTRY, "eq-40", broken)
    assert symbolic.run_cli(only=["eq-40"]) == 1
    assert "fail" in capsys.readouterr().out


def test_unknown_id_in_python_api():
    with pytest.raises(OptionError, match=r"`ids` must name registered checks.*'nope'"):
        symbolic.run(["nope"])


def test_a_single_id_string_is_accepted():
    assert [r.id for r in symbolic.run("eq-40")] == ["eq-40"]
