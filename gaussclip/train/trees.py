"""Parameter trees: nests of dicts (visited in sorted key order) and lists/tuples of arrays.

:func:`tree_leaves` flattens a tree into ``[(path, array), ...]``; :func:`tree_unflatten` puts
leaves back into the shape of a template. The optimizer, the backward pass and the checkpoint
format all index parameters by this order, so it is defined once, here.
"""


def tree_leaves(tree, prefix=""):
    """``[(path, array), ...]`` of a nest of dicts (sorted keys) and lists/tuples."""
    if isinstance(tree, dict):
        return [kv for key in sorted(tree) for kv in tree_leaves(tree[key], f"{prefix}/{key}")]
    if isinstance(tree, list | tuple):
        return [kv for i, item in enumerate(tree) for kv in tree_leaves(item, f"{prefix}/{i}")]
    return [(prefix or "/", tree)]


def tree_unflatten(template, leaves):
    """A nest shaped like ``template`` holding ``leaves`` (in :func:`tree_leaves` order)."""
    it = iter(leaves)

    def build(node):
        if isinstance(node, dict):
            return {key: build(node[key]) for key in sorted(node)}
        if isinstance(node, list | tuple):
            return type(node)(build(item) for item in node)
        return next(it)

    return build(template)
