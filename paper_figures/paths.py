"""Where things are: the repository root and the default output folder, computed from this
file's location (so scripts work from any working directory)."""

from pathlib import Path

#: The folder holding the figure scripts.
SCRIPTS_DIR = Path(__file__).resolve().parent
#: The repository root (the parent of ``paper_figures/``).
REPO_ROOT = SCRIPTS_DIR.parent
#: Default output folder (git-ignored).
FIGURES_DIR = REPO_ROOT / "figures"
