"""The layering docs/architecture.md describes: what `import gaussclip` loads."""

import json
import subprocess
import sys

#: Top-level packages `import gaussclip` must not load: autograd (numerical route and learning
#: half), SymPy (symbolic checks), matplotlib (figures).
HEAVY = ("autograd", "sympy", "matplotlib")
#: gaussclip modules that load only on first use.
LAZY = ("gaussclip.numerical", "gaussclip.cosine", "gaussclip.train", "gaussclip.symbolic",
        "gaussclip.losses", "gaussclip.nn", "gaussclip.data", "gaussclip.retrieval")  # fmt: skip


def _modules_after(code):
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_import_gaussclip_loads_only_the_closed_form_engine():
    loaded = _modules_after("import gaussclip as gc\nmu = gc.JointGaussian([[1, .5], [.5, 1]], 1)")
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == []
    assert not loaded & set(LAZY)


def test_numerical_route_loads_autograd_on_first_use():
    loaded = _modules_after(
        "import gaussclip as gc\nmu = gc.JointGaussian([[1, .5], [.5, 1]], 1)\n"
        "gc.minimize(mu, 'cond', 'quadratic', weights=(1, 3), method='numerical', seed=0)"
    )
    assert "autograd" in loaded and "gaussclip.numerical" in loaded
    assert "sympy" not in loaded
