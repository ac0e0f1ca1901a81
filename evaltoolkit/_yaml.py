"""Safe YAML reading with bounded alias expansion (no "billion laughs").

PyYAML's ``SafeLoader`` builds only plain data, but an alias (``*name``) is a reference to an earlier
node, so a few lines of nested aliases describe a document with billions of values: constructing it is
cheap, walking it (validation, printing, JSON) never ends. :func:`safe_load` composes the node graph
first, counts the values it would expand to (each node once, in time linear in the file), and refuses a
document above :data:`MAX_NODES` values or with an alias that refers to itself, before anything is built.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["MAX_NODES", "YAMLTooLargeError", "safe_load"]

MAX_NODES = 200_000
"""Largest number of values (scalars, lists and mappings, aliases expanded) a YAML document may hold."""


class YAMLTooLargeError(yaml.YAMLError):
    """A YAML document expands (through aliases) to more than :data:`MAX_NODES` values, or is recursive.

    Has ``problem`` and ``problem_mark`` like PyYAML's own errors, so handlers that report the position
    of a syntax error report this one too.
    """

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark

    def __str__(self) -> str:
        where = f" (line {self.problem_mark.line + 1})" if self.problem_mark is not None else ""
        return f"{self.problem}{where}"


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Number of values ``root`` expands to, each shared node counted once per reference."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in on_path:
            raise YAMLTooLargeError(
                "an alias refers to a node that contains it (a recursive document); YAML files for "
                "evaltoolkit must be plain trees",
                node.start_mark,
            )
        if isinstance(node, yaml.ScalarNode):
            return 1
        on_path.add(key)
        total = 1
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        for child in children:
            total += size(child)
            if total > limit:
                raise YAMLTooLargeError(
                    f"the document expands to more than {limit:,} values through its aliases (*name); "
                    "refused as a likely 'billion laughs' file: write the values out, or use fewer aliases",
                    node.start_mark,
                )
        on_path.discard(key)
        sizes[key] = total
        return total

    return size(root)


def safe_load(
    text: str, *, loader: type[yaml.SafeLoader] = yaml.SafeLoader, max_nodes: int = MAX_NODES
) -> Any:
    """Parse one YAML document with ``loader`` (a ``SafeLoader`` subclass), refusing alias bombs.

    Parameters
    ----------
    text : str
        The YAML text.
    loader : type, default yaml.SafeLoader
        Loader class; must derive from ``yaml.SafeLoader``.
    max_nodes : int, default MAX_NODES
        Largest number of values the document may expand to.

    Returns
    -------
    object
        The parsed document (``None`` for an empty one).

    Raises
    ------
    YAMLTooLargeError
        The document expands to more than ``max_nodes`` values or is recursive.
    yaml.YAMLError
        The text is not valid YAML.

    Examples
    --------
    >>> safe_load("a: &x [1, 2]\\nb: *x")
    {'a': [1, 2], 'b': [1, 2]}
    >>> bomb = "a: &a [x, x]\\nb: &b [*a, *a]\\nc: &c [*b, *b]\\nd: [*c, *c]"
    >>> safe_load(bomb, max_nodes=20)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evaltoolkit._yaml.YAMLTooLargeError: the document expands to more than 20 values through its aliases ...
    """
    if not (isinstance(loader, type) and issubclass(loader, yaml.SafeLoader)):
        raise TypeError("loader must be a yaml.SafeLoader subclass")
    instance = loader(text)
    try:
        node = instance.get_single_node()
        if node is None:
            return None
        _expanded_size(node, max_nodes)
        return instance.construct_document(node)
    finally:
        instance.dispose()
