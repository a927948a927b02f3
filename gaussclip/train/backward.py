"""The per-leaf backward pass: the only module of gaussclip that touches autograd's internals.

:func:`leaf_value_and_grad` computes what ``autograd.value_and_grad`` computes with respect to a
parameter tree, but traces every leaf array on its own. It uses ``autograd.core.VJPNode``,
``autograd.core.add_outgrads`` and ``autograd.tracer`` (``new_box``, ``toposort``,
``trace_stack``), which are not autograd's public API; ``tests/test_train_backward.py`` pins the
result to ``autograd.value_and_grad`` so an autograd upgrade that changes them fails loudly.
"""

import numpy as np
from autograd.core import VJPNode, add_outgrads, vspace
from autograd.tracer import isbox, new_box, toposort, trace_stack

from .trees import tree_unflatten


def leaf_value_and_grad(objective, template):
    """``f(leaves, *batch) -> (value, [gradient of each leaf])`` for ``objective(params, *batch)``.

    The same as ``autograd.value_and_grad`` with respect to ``params``, but each leaf array is
    traced on its own: the objective receives ``params`` rebuilt as plain dicts and lists holding
    the traced leaves. autograd's container boxes would instead build a zero gradient of *every*
    leaf for each leaf the model reads and add them up, a cost quadratic in the number of leaves
    that is a tenth of a small model's step. Leaves the objective does not read get zero
    gradients.
    """

    def value_and_grads(leaves, *batch):
        roots = [VJPNode.new_root() for _ in leaves]
        with trace_stack.new_trace() as trace:
            boxed = [new_box(leaf, trace, root) for leaf, root in zip(leaves, roots, strict=True)]
            end = objective(tree_unflatten(template, boxed), *batch)
            traced = isbox(end) and end._trace == trace
        if not traced:  # the objective does not depend on the parameters
            return end, [np.zeros_like(leaf) for leaf in leaves]
        value, end_node = end._value, end._node
        index = {root: i for i, root in enumerate(roots)}
        grads = [None] * len(leaves)
        outgrads = {end_node: (vspace(value).ones(), False)}
        for node in toposort(end_node):  # autograd.core.backward_pass, keeping every root
            g = outgrads.pop(node)[0]
            if node in index:
                grads[index[node]] = g
                continue
            for parent, ingrad in zip(node.parents, node.vjp(g), strict=False):
                outgrads[parent] = add_outgrads(outgrads.get(parent), ingrad)
        return value, [
            np.zeros_like(a) if g is None else g for a, g in zip(leaves, grads, strict=True)
        ]

    return value_and_grads
