"""Reading a lesson's YAML safely while remembering where every value was.

PyYAML's safe composer gives a node tree with positions; this module turns it
into plain Python values and a map from each value's path (``("steps", 2,
"stride")``) to its line and column. Duplicate keys, non-string keys,
Python-object tags and alias bombs become located errors, never exceptions.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..quoting import quoted
from . import syntax
from .errors import FieldPath, LessonError, path_text
from .syntax import LINE_BREAK

# Far above any real lesson; a document that expands beyond it through
# aliases is refused before it is built.
MAX_NODES = 20_000
MAX_DEPTH = 50  # a lesson needs about 6 (matrices in a step in a list)
MAX_BYTES = 1_000_000
# Longer than any number a lesson holds; YAML reads some long numbers (base 60,
# "1:59:59:…") in time that grows with the square of their length.
MAX_NUMBER_CHARS = 100
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class _TooManyValues(Exception):
    def __init__(self, mark: Any) -> None:
        self.mark = mark


class _Loader(yaml.SafeLoader):
    """The safe loader, stopping as soon as a document holds more than MAX_NODES values.

    (Counting after composing would first spend the time and memory of
    composing, e.g. half a million values of a 1 MB flow list.)
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.composed = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self.composed += 1
        if self.composed > MAX_NODES:
            raise _TooManyValues(self.peek_event().start_mark)
        return super().compose_node(parent, index)


_SAFE_TAG_PREFIX = "tag:yaml.org,2002:"
_SAFE_TAGS = {
    _SAFE_TAG_PREFIX + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}
_MERGE_TAG = _SAFE_TAG_PREFIX + "merge"
# Larger than any count, index or size a lesson can mean; beyond it a number is
# refused where it enters, before any message has to print all its digits.
MAX_INTEGER = 10**15
MAX_KEY_CHARS = 100


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be lesson text (None when it can): it must be valid
    Unicode that encodes as UTF-8, without NUL or other control characters
    (tabs and line breaks are fine)."""
    for char in text:
        if char in "\n\t":
            continue
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return f"holds a lone surrogate (U+{code:04X}), which is not valid Unicode text"
        category = unicodedata.category(char)
        if category == "Cc":
            name = "NUL" if code == 0 else "a control character"
            return f"holds {name} (U+{code:04X}); write plain text"
    return None


def _invisible(key: str) -> str | None:
    """Why a key cannot be a field name: it holds a character that shows as nothing
    (a zero-width space, a soft hyphen, a direction mark), so 'type' would not be type."""
    for char in key:
        if unicodedata.category(char) == "Cf":
            return f"holds an invisible character (U+{ord(char):04X}); type the key anew"
    return None


def scalar_problem(value: Any) -> str | None:
    """Why a YAML scalar cannot be a lesson value (None when it can)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            digits = max(1, math.floor(value.bit_length() * math.log10(2)) + 1)
            return f"a number of about {digits:,} digits is far too large for any field"
        return None
    # Floats, infinite or not, go on to the schemas: every float field has bounds
    # and every matrix entry is checked to be finite, each with its own message.
    if isinstance(value, str):
        return text_problem(value)
    return None


@dataclass(frozen=True)
class Document:
    """What kind of file is read, for its messages: a lesson, or a theme."""

    kind: str = "lesson"
    needs: str = "a title and steps"  # what an empty file lacks
    top_keys: str = "'title' and 'steps'"


LESSON = Document()


@dataclass
class Source:
    """A parsed lesson document: its data and where each part of it came from."""

    file: str
    data: Any = None
    value_marks: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)
    errors: list[LessonError] = field(default_factory=list)
    warnings: list[LessonError] = field(default_factory=list)
    # Fields given under an old name (see StepSpec.renamed): errors name them as written.
    renamed: dict[FieldPath, FieldPath] = field(default_factory=dict)
    # Lesson keys replaced for one render, each with the flag or keyword that gave
    # it: errors about them name that, and ``override_origin``, instead of a line.
    overridden: dict[str, str] = field(default_factory=dict)
    override_origin: str = "command line"
    size_bytes: int = 0  # of the file's text
    size_values: int = 0  # nodes, counting each use of an alias
    # The text could not be read as YAML: its errors may quote it (an alias, a tag).
    unreadable: bool = False
    # What the author wrote where YAML read plain text as something else
    # (12:30 is a number, yes is true, 2024-01-01 a date): messages quote it.
    written: dict[FieldPath, str] = field(default_factory=dict)

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
            return LessonError(self.override_origin, 0, 0, self.overridden[str(path[0])], message)
        line, column = self.mark(path, key)
        for new, old in self.renamed.items():
            if path[: len(new)] == new:
                path = (*old, *path[len(new) :])
        return LessonError(self.file, line, column, path_text(path), message)

    def field_error(self, path: FieldPath, message: str, kind: str) -> LessonError:
        """An error pydantic gave as ``kind`` at ``path``, placed where the author looks:
        a missing field at the mapping that lacks it (named all the same), an unknown
        one at its key, anything else at its value."""
        if kind == "missing":
            line, column = self.mark(path[:-1])
            return LessonError(self.file, line, column, path_text(path), message)
        return self.error(path, message, key=kind == "extra_forbidden")


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
                    f"the YAML tag {quoted(node.tag, 100)} is not allowed (plain values only)",
                )
            )
            return None
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        assert isinstance(node, MappingNode)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line, column = _position(key_node)
            if key_node.tag == _MERGE_TAG:
                self._located(
                    key_node,
                    path,
                    "merge keys ('<<') are not supported; write each key out in full",
                )
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag == _SAFE_TAG_PREFIX + "null":
                self.source.errors.append(
                    LessonError(
                        self.source.file, line, column, path_text(path), "keys must be plain names"
                    )
                )
                continue
            key = str(key_node.value)
            problem = text_problem(key) or _invisible(key)
            if problem is None and len(key) > MAX_KEY_CHARS:
                problem = f"is longer than {MAX_KEY_CHARS} characters"
            if problem is not None:
                self._located(key_node, path, f"a key that {problem}")
                continue
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

    def _located(self, node: Node, path: FieldPath, message: str) -> None:
        line, column = _position(node)
        self.source.errors.append(
            LessonError(self.source.file, line, column, path_text(path), message)
        )

    def _scalar(self, node: ScalarNode, path: FieldPath) -> Any:
        """A scalar's value; a value YAML cannot build, or a lesson cannot hold, is an error."""
        if node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARS:
            tag = node.tag.removeprefix(_SAFE_TAG_PREFIX)
            self._located(
                node,
                path,
                f"cannot read this value as {tag}: written with more than {MAX_NUMBER_CHARS} "
                "characters, it is far too large for a lesson",
            )
            return None
        try:
            value = self.scalars.construct_object(node, deep=True)
        except Exception as exc:  # PyYAML's constructors raise many kinds for odd tags
            tag = node.tag.removeprefix(_SAFE_TAG_PREFIX)
            reason = str(exc) if isinstance(exc, yaml.YAMLError | ValueError) else ""
            reason = reason.split("\n")[0][:120]
            self._located(
                node,
                path,
                f"cannot read this value as {tag}" + (f" ({reason})" if reason else ""),
            )
            return None
        problem = scalar_problem(value)
        if problem is not None:
            self._located(node, path, problem)
            return None
        if not isinstance(value, str) and node.style is None and node.value:
            self.source.written[path] = node.value
        return value


def _line_column(text: str, index: int) -> tuple[int, int]:
    """Line and column (from 1) of the character at ``index``, counted as YAML counts
    them: every kind of line break ends a line, and a byte-order mark takes no column."""
    index = max(0, min(index, len(text)))
    line, start = 1, 0
    for match in LINE_BREAK.finditer(text, 0, index):
        line, start = line + 1, match.end()
    if start == 0 and text.startswith("\ufeff") and index > 0:
        start = 1
    return line, index - start + 1


def decode_error(data: bytes, exc: UnicodeDecodeError) -> tuple[int, int, str]:
    """Where undecodable bytes are (line, column in characters) and what they are."""
    prefix = data[: exc.start].decode("utf-8", errors="replace")
    line, column = _line_column(prefix, len(prefix))
    shown = data[exc.start : min(exc.end, exc.start + 4)].hex(" ")
    return line, column, f"not UTF-8 text (bytes {shown} here); save the file as UTF-8"


def _root(
    text: str, file: str, document: Document = LESSON
) -> tuple[Node | None, LessonError | None]:
    """The one YAML document of ``text`` as a node tree, or the error that stops reading it."""

    def refused(message: str, line: int = 1, column: int = 1) -> tuple[None, LessonError]:
        return None, LessonError(file, line, column, "", message)

    def unreadable(message: str, line: int = 1, column: int = 1) -> tuple[None, LessonError]:
        return None, LessonError(file, line, column, "", message, quotes_text=True)

    loader: _Loader | None = None
    documents: list[Node | None] = []
    try:
        loader = _Loader(text)  # (its reader checks every character at once)
        while loader.check_node():
            documents.append(loader.get_node())
    except _TooManyValues as exc:
        line, column = (exc.mark.line + 1, exc.mark.column + 1) if exc.mark else (1, 1)
        return refused(
            f"the document holds more than {MAX_NODES:,} values; "
            f"a {document.kind} needs far fewer, so it is refused",
            line,
            column,
        )
    except RecursionError:
        return refused("the YAML nests too deeply to read; refusing it")
    except yaml.MarkedYAMLError as exc:
        plain = syntax.explain(exc, text)
        if plain is not None:
            return unreadable(f"YAML syntax error: {plain.message}", plain.line, plain.column)
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return unreadable(f"YAML syntax error: {_syntax_message(exc)}", line, column)
    except yaml.reader.ReaderError as exc:
        char = exc.character
        code = char if isinstance(char, int) else ord(str(char)[:1] or "?")
        return unreadable(
            f"YAML cannot hold the character U+{code:04X} here; "
            "write it as an escape in double quotes or remove it",
            *_line_column(text, exc.position),
        )
    except yaml.YAMLError as exc:
        first = str(exc).split("\n")[0][:200]
        return unreadable(f"YAML error: {first}")
    except (ValueError, OverflowError) as exc:
        # PyYAML's scanner converts some text itself and lets Python's errors through:
        # an escape beyond Unicode ("\U00110000"), a %YAML version of 5,000 digits.
        mark = loader.get_mark() if loader is not None else None
        where = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return unreadable(f"YAML cannot read this: {_python_reason(exc)}", *where)
    finally:
        if loader is not None:
            loader.dispose()
    found = [d for d in documents if d is not None]
    if not found:
        return refused(f"the file is empty; a {document.kind} needs {document.needs}")
    if len(found) > 1:
        second = _position(found[1])
        return refused(f"one {document.kind} per file: found a second YAML document", *second)
    deep = _too_deep(found[0], MAX_DEPTH)
    if deep is not None:
        return refused(f"values nest more than {MAX_DEPTH} levels; refusing them", *_position(deep))
    return found[0], None


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    """A parser's complaint in one clause: what is wrong, then where it started."""
    problem = exc.problem or "invalid YAML"
    context = exc.context or ""
    anchor = re.match(r"found duplicate anchor (.*); first occurrence$", context)
    if anchor and exc.context_mark is not None:
        first = exc.context_mark.line + 1
        return f"the anchor {anchor.group(1)} is defined twice (first on line {first})"
    if not context:
        return problem
    if context.startswith("while") or exc.context_mark is None:
        return f"{problem} {context}"
    return f"{problem} ({context} on line {exc.context_mark.line + 1})"


def _python_reason(exc: Exception) -> str:
    if isinstance(exc, OverflowError) or "chr()" in str(exc):
        return "an escape names no Unicode character (at most \\U0010FFFF)"
    if "digits" in str(exc):
        return "a number in a directive has far too many digits"
    return str(exc).split("\n")[0][:120]


def parse(text: str, file: str, document: Document = LESSON) -> Source:
    """Parse ``text`` (a lesson, or another ``document``); problems are collected in
    ``Source.errors``."""
    source = Source(file)
    source.size_bytes = len(text.encode("utf-8", errors="surrogatepass"))
    if source.size_bytes > MAX_BYTES:
        source.errors.append(
            LessonError(file, 1, 1, "", f"the file is larger than {MAX_BYTES:,} bytes")
        )
        return source
    root, error = _root(text, file, document)
    if root is None:
        source.errors.extend([error] if error else [])
        source.unreadable = error is not None and error.quotes_text
        return source
    source.size_values = _expanded_size(root, {}, MAX_NODES)
    if source.size_values > MAX_NODES:
        source.errors.append(
            LessonError(
                file,
                1,
                1,
                "",
                f"the document holds more than {MAX_NODES:,} values (counting each use "
                f"of an alias); a {document.kind} needs far fewer, so it is refused",
            )
        )
        return source
    source.data = _Builder(source).build(root, ())
    source.unreadable = source.data is None and bool(source.errors)
    if not isinstance(source.data, dict) and not source.errors:
        line, column = _position(root)
        kind = (
            "a list" if isinstance(source.data, list) else f"a single value ({quoted(source.data)})"
        )
        source.errors.append(
            LessonError(
                file,
                line,
                column,
                "",
                f"expected a mapping with keys like {document.top_keys} at the top level, "
                f"got {kind}",
            )
        )
    return source
