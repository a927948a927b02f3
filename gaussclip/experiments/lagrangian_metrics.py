"""Retrieval metrics of the Section 6.3 experiment: R@1 and R@5 in both directions, over the
whole candidate set and over random candidate batches of the paper's batch size (used by the
trained encoder, :mod:`gaussclip.experiments.lagrangian`, and by the physics reference,
:mod:`gaussclip.experiments.lagrangian_reference`)."""

import numpy as np

from .. import retrieval

#: The K of recall@K.
KS = (1, 5)
#: Candidate-set size of the batch-wise metric (the paper's batch size).
CANDIDATE_BATCH = 128


def retrieval_metrics(z_coeff, z_traj, rng, batch=CANDIDATE_BATCH):
    """R@1 and R@5 in both directions, over all candidates and over random candidate batches.

    Returns
    -------
    dict
        ``{"full": {...}, "batch": {...}}``, each ``{"c_to_t": {"R@1", "R@5"}, "t_to_c": ...}``
        (``c_to_t``: a potential's coefficients query the trajectories), with the candidate-set
        sizes ``n_candidates_full`` and ``n_candidates_batch``.
    """
    names = {"u_to_v": "c_to_t", "v_to_u": "t_to_c"}

    def metrics(zu, zv):
        r = retrieval.recall_at_k(zu, zv, ks=KS, similarity="cosine")
        return {names[d]: {f"R@{k}": r[d][f"R@{k}"] for k in KS} for d in names}

    full = metrics(z_coeff, z_traj)
    batch = min(batch, len(z_coeff))
    order = rng.permutation(len(z_coeff))
    groups = [order[i : i + batch] for i in range(0, len(order) - batch + 1, batch)]
    per = [metrics(z_coeff[g], z_traj[g]) for g in groups]
    averaged = {d: {key: float(np.mean([p[d][key] for p in per])) for key in full[d]} for d in full}
    return {
        "full": full,
        "batch": averaged,
        "n_candidates_full": len(z_coeff),
        "n_candidates_batch": batch,
    }
