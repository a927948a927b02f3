"""Data sets of the paper: ``gp`` (Section 6.1), ``mnist`` (Section 6.2), ``lagrangian``
(Section 6.3), ``toy`` (Section 5.4). Each loads on first use; caches live under
:func:`gaussclip.io.cache_dir`."""
