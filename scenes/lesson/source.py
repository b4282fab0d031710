"""Reading a lesson's YAML safely while remembering where every value was.

PyYAML's safe composer gives a node tree with positions; this module turns it
into plain Python values and a map from each value's path (``("steps", 2,
"stride")``) to its line and column. Duplicate keys, non-string keys,
Python-object tags and alias bombs become located errors, never exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import FieldPath, LessonError, path_text

# Far above any real lesson; a document that expands beyond it through
# aliases is refused before it is built.
MAX_NODES = 20_000
MAX_DEPTH = 50  # a lesson needs about 6 (matrices in a step in a list)
MAX_BYTES = 1_000_000
_SAFE_TAG_PREFIX = "tag:yaml.org,2002:"
_SAFE_TAGS = {
    _SAFE_TAG_PREFIX + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}


@dataclass
class Source:
    """A parsed lesson document: its data and where each part of it came from."""

    file: str
    data: Any = None
    value_marks: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)
    errors: list[LessonError] = field(default_factory=list)
    # Lesson keys replaced from the command line (errors name the option instead).
    overridden: set[str] = field(default_factory=set)

    def mark(self, path: FieldPath, key: bool = False) -> tuple[int, int]:
        """The best position for ``path``: the value's (or key's), else the nearest parent's."""
        marks = self.key_marks if key else self.value_marks
        probe = tuple(path)
        while probe:
            if probe in marks:
                return marks[probe]
            if not key and probe in self.key_marks:
                return self.key_marks[probe]
            probe = probe[:-1]
        return self.value_marks.get((), (1, 1))

    def error(self, path: FieldPath, message: str, key: bool = False) -> LessonError:
        if path and path[0] in self.overridden:
            return LessonError("command line", 0, 0, f"--{path[0]}", message)
        line, column = self.mark(path, key)
        return LessonError(self.file, line, column, path_text(path), message)


def _position(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _too_deep(root: Node, limit: int) -> Node | None:
    """The first node more than ``limit`` levels down, if any (no recursion)."""
    pending: list[tuple[Node, int]] = [(root, 0)]
    seen: set[int] = set()
    while pending:
        node, depth = pending.pop()
        if depth > limit:
            return node
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            pending.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, MappingNode):
            pending.extend((v, depth + 1) for _, v in node.value)
    return None


def _expanded_size(node: Node, memo: dict[int, int], limit: int) -> int:
    """Nodes the document has once every alias is expanded (stops past ``limit``)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = limit + 1  # a cycle counts as too large
    size = 1
    if isinstance(node, SequenceNode):
        for child in node.value:
            size += _expanded_size(child, memo, limit)
            if size > limit:
                break
    elif isinstance(node, MappingNode):
        for k, v in node.value:
            size += _expanded_size(k, memo, limit) + _expanded_size(v, memo, limit)
            if size > limit:
                break
    memo[key] = size
    return size


class _Builder:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.scalars = yaml.SafeLoader("")

    def build(self, node: Node, path: FieldPath) -> Any:
        self.source.value_marks.setdefault(path, _position(node))
        if node.tag not in _SAFE_TAGS:
            line, column = _position(node)
            self.source.errors.append(
                LessonError(
                    self.source.file,
                    line,
                    column,
                    path_text(path),
                    f"the YAML tag {node.tag!r} is not allowed (plain values only)",
                )
            )
            return None
        if isinstance(node, ScalarNode):
            try:
                return self.scalars.construct_object(node, deep=True)
            except (yaml.YAMLError, ValueError) as exc:
                line, column = _position(node)
                self.source.errors.append(
                    LessonError(
                        self.source.file,
                        line,
                        column,
                        path_text(path),
                        f"cannot read this value ({exc})",
                    )
                )
                return None
        if isinstance(node, SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        assert isinstance(node, MappingNode)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line, column = _position(key_node)
            if not isinstance(key_node, ScalarNode) or key_node.tag == _SAFE_TAG_PREFIX + "null":
                self.source.errors.append(
                    LessonError(
                        self.source.file, line, column, path_text(path), "keys must be plain names"
                    )
                )
                continue
            key = str(key_node.value)
            child = (*path, key)
            if key in result:
                first = self.source.key_marks[child]
                self.source.errors.append(
                    LessonError(
                        self.source.file,
                        line,
                        column,
                        path_text(child),
                        f"duplicate key (first given on line {first[0]})",
                    )
                )
                continue
            self.source.key_marks[child] = (line, column)
            result[key] = self.build(value_node, child)
        return result


def parse(text: str, file: str) -> Source:
    """Parse ``text``; problems are collected in ``Source.errors``."""
    source = Source(file)
    if len(text.encode("utf-8")) > MAX_BYTES:
        source.errors.append(
            LessonError(file, 1, 1, "", f"the file is larger than {MAX_BYTES:,} bytes")
        )
        return source
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except RecursionError:
        source.errors.append(
            LessonError(file, 1, 1, "", "the YAML nests too deeply to read; refusing it")
        )
        return source
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        context = f" {exc.context}" if exc.context else ""
        source.errors.append(
            LessonError(file, line, column, "", f"YAML syntax error: {problem}{context}")
        )
        return source
    except yaml.YAMLError as exc:
        source.errors.append(LessonError(file, 1, 1, "", f"YAML error: {exc}"))
        return source
    documents = [d for d in documents if d is not None]
    if not documents:
        source.errors.append(
            LessonError(file, 1, 1, "", "the file is empty; a lesson needs a title and steps")
        )
        return source
    if len(documents) > 1:
        line, column = _position(documents[1])
        source.errors.append(
            LessonError(file, line, column, "", "one lesson per file: found a second YAML document")
        )
        return source
    root = documents[0]
    deep = _too_deep(root, MAX_DEPTH)
    if deep is not None:
        line, column = _position(deep)
        source.errors.append(
            LessonError(
                file, line, column, "", f"values nest more than {MAX_DEPTH} levels; refusing them"
            )
        )
        return source
    if _expanded_size(root, {}, MAX_NODES) > MAX_NODES:
        source.errors.append(
            LessonError(
                file,
                1,
                1,
                "",
                f"the document holds more than {MAX_NODES:,} values (counting each use "
                "of an alias); a lesson needs far fewer, so it is refused",
            )
        )
        return source
    source.data = _Builder(source).build(root, ())
    if not isinstance(source.data, dict) and not source.errors:
        line, column = _position(root)
        kind = "a list" if isinstance(source.data, list) else f"a single value ({source.data!r})"
        source.errors.append(
            LessonError(
                file,
                line,
                column,
                "",
                "expected a mapping with keys like 'title' and 'steps' at the top level, "
                f"got {kind}",
            )
        )
    return source
