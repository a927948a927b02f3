"""Scripts that reproduce the paper's figures: one ``figNN_<slug>.py`` per figure, each with
``main(out_dir, mode)`` writing ``figNN_<slug>.png`` and ``figNN_<slug>.json``. Run them all
with ``python -m paper_figures`` (or ``gaussclip figures``)."""
