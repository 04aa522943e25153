"""YAML read strictly: no duplicate keys, bounded nesting, bounded alias expansion.

PyYAML's safe loader shares an anchored node between its aliases, so a "billion laughs"
document of a few hundred bytes loads at once and only explodes when something walks it
(validation, error messages). The composed node graph is measured here instead, each node once,
so a document is refused before anything expands it.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 64  # nesting levels of lists and mappings, aliases expanded
MAX_NODES = 100_000  # values in the document with every alias expanded


class StrictYamlError(yaml.MarkedYAMLError):
    """A document the strict reader refuses, with the place in the file."""


class _StrictLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._measured: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes, depth) expanded
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise StrictYamlError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                      self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is not None:
            self._measure(node)
        return node

    def _measure(self, node: Node) -> tuple[int, int]:
        known = self._measured.get(id(node))
        if known is not None:
            return known
        nodes, depth = 1, 0
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        for child in children:
            # Children were composed (and measured) before their parent, aliases included.
            child_nodes, child_depth = self._measured.get(id(child)) or self._measure(child)
            nodes += child_nodes
            depth = max(depth, child_depth)
        depth += 1 if children else 0
        if nodes > MAX_NODES:
            raise StrictYamlError(None, None, f"aliases expand to more than {MAX_NODES:,} values",
                                  node.start_mark)
        if depth > MAX_DEPTH:
            raise StrictYamlError(None, None, f"nested deeper than {MAX_DEPTH} levels "
                                  "(aliases expanded)", node.start_mark)
        self._measured[id(node)] = (nodes, depth)
        return nodes, depth

    def construct_yaml_int(self, node: ScalarNode) -> int:
        """An integer; one beyond Python's limit on digits read from text (4,300 by default)
        is refused with its place, not raised as a ValueError."""
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            raise StrictYamlError(None, None, f"an integer of {len(str(node.value)):,} "
                                  "characters: too long", node.start_mark) from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:
                continue  # an unhashable key: the constructor says so itself
            if first is not key_node:
                raise StrictYamlError(
                    None, None, f"duplicate key {_short(key)} (first at line "
                    f"{first.start_mark.line + 1})", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def load_yaml(text: str) -> object:
    """The one document in `text`, read strictly (raises yaml.YAMLError with a mark)."""
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


MAX_DOCUMENTS = 10_000  # documents in one stream (an OpenSLO file holds one object each)


def load_yaml_documents(text: str) -> list[object]:
    """Every document in `text`, each read as strictly as `load_yaml` reads one."""
    loader = _StrictLoader(text)
    documents: list[object] = []
    try:
        while loader.check_data():  # type: ignore[no-untyped-call]
            if len(documents) == MAX_DOCUMENTS:
                raise StrictYamlError(None, None, f"more than {MAX_DOCUMENTS:,} documents",
                                      loader.peek_event().start_mark)  # type: ignore[no-untyped-call]
            documents.append(loader.get_data())
            loader._measured.clear()  # aliases do not cross documents
    finally:
        loader.dispose()
    return documents


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
