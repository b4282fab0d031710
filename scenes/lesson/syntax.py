"""YAML syntax errors in plain words: the likely mistake, the line it is on, and the fix.

PyYAML describes a syntax error by the parser's state ("expected <block end>,
but found '?'" for a line indented one space too few). The common mistakes
of a lesson author each leave a recognisable trace in that state and in the
lines around it: a line indented more or less than its neighbours, a tab, a
key without its ':' (or without the space after it), a value holding ': ',
a quote or bracket never closed, a bracket that closes nothing. ``explain``
recognises them; anything else keeps the parser's own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from yaml.tokens import (
    FlowMappingEndToken,
    FlowMappingStartToken,
    FlowSequenceEndToken,
    FlowSequenceStartToken,
    Token,
)

from ..quoting import quoted

# What YAML counts as a line break (a lone CR too), as its own marks do.
LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_QUOTES = "'\""
_CLOSERS = {"[": "]", "{": "}"}
_OPENERS = {"]": "[", "}": "{"}
_SHOWN = 50  # characters of a line quoted in a message
_WORD = re.compile(r"\S*")
_LONGEST_KEY = 1024  # a longer plain key is not a key to YAML


@dataclass(frozen=True)
class Explained:
    """A syntax error told plainly, at the place the fix goes (line, column from 1)."""

    line: int
    column: int
    message: str


@dataclass
class _Line:
    """One line of the file, read as a lesson line: its list dashes, key and value."""

    number: int
    text: str
    indent: int = 0
    dashes: list[int] = field(default_factory=list)  # columns (from 0) of '- ' markers
    key: str | None = None
    key_column: int = 0  # from 0
    value: str = ""  # after 'key:', without a comment

    @property
    def blank(self) -> bool:
        stripped = self.text.strip(" \t")
        return not stripped or stripped.startswith("#")

    @property
    def shown(self) -> str:
        return quoted(self.text.strip(" \t"), _SHOWN)

    @property
    def content_column(self) -> int:
        """Where the line's content starts after its indentation and dashes (from 0)."""
        return self.key_column if self.key is not None else _after_dashes(self.text)[1]

    @property
    def first_word(self) -> str:
        rest = self.text[self.content_column :].strip(" \t")
        return re.split(r"[\s=:]", rest, maxsplit=1)[0] if rest else ""

    def columns(self, items: bool) -> list[tuple[int, str]]:
        """Where something can line up with this line: its key (and, for a list item,
        its dashes), each with what is there."""
        found = [(self.key_column, self.key)] if self.key is not None else []
        if items:
            found += [(column, "-") for column in self.dashes]
        return found


def _after_dashes(text: str) -> tuple[list[int], int]:
    """The columns of a line's list dashes and where its content starts after them."""
    i = len(text) - len(text.lstrip(" "))
    dashes = []
    while text.startswith("-", i) and (i + 1 == len(text) or text[i + 1] in " \t"):
        dashes.append(i)
        i += 1
        while i < len(text) and text[i] in " \t":
            i += 1
    return dashes, i


def _read_line(number: int, text: str) -> _Line:
    line = _Line(number, text, indent=len(text) - len(text.lstrip(" ")))
    line.dashes, start = _after_dashes(text)
    rest = text[start:]
    if not rest or rest[0] in "#'\"[]{}&*!|>%@`,?:":
        return line
    colon = rest.find(":")
    while colon != -1 and colon + 1 < len(rest) and rest[colon + 1] not in " \t":
        colon = rest.find(":", colon + 1)
    if colon == -1:
        return line
    key = rest[:colon].rstrip(" \t")
    if not key or " #" in key or "\t#" in key:
        return line
    value = rest[colon + 1 :].strip(" \t")
    line.key, line.key_column = key, start
    line.value = "" if value.startswith("#") else value
    return line


class _Lines:
    def __init__(self, text: str) -> None:
        self.text = text
        # A byte-order mark takes no column in YAML's marks.
        self.raw = LINE_BREAK.split(text.removeprefix("\ufeff"))
        self.read: dict[int, _Line] = {}

    def __getitem__(self, number: int) -> _Line:
        """Line ``number`` (from 1); an empty line past the end."""
        if number not in self.read:
            text = self.raw[number - 1] if 1 <= number <= len(self.raw) else ""
            self.read[number] = _read_line(number, text)
        return self.read[number]

    def above(self, number: int) -> _Line | None:
        """The nearest line above ``number`` with content (not blank, not a comment)."""
        for n in range(min(number, len(self.raw) + 1) - 1, 0, -1):
            line = self[n]
            if not line.blank:
                return line
        return None


def _plain(text: str, limit: int = 30) -> str | None:
    """``text`` to write into an example as it is: cut to ``limit`` characters, and
    None when it holds a character that would not show as itself."""
    cut = text if len(text) <= limit else text[: limit - 3] + "..."
    return cut if cut.isprintable() else None


def _spaces(count: int) -> str:
    return f"{count} space" if count == 1 else f"{count} spaces"


def explain(exc: yaml.MarkedYAMLError, text: str) -> Explained | None:
    """``exc`` as the author's likely mistake and its fix, or None when it is none of the
    common ones (the caller then quotes the parser)."""
    mark = exc.problem_mark
    if mark is None:
        return None
    lines = _Lines(text)
    at = (mark.line + 1, mark.column + 1)
    problem = exc.problem or ""
    context = exc.context or ""
    rules = (_tab, _bad_start, _quote, _missing_colon, _mapping_value, _block_end, _top, _flow)
    for rule in rules:
        found = rule(lines, at, problem, context, exc.context_mark)
        if found is not None:
            return found
    return _marker(lines, at, problem, context, exc.context_mark)


_Mark = yaml.Mark | None
_At = tuple[int, int]


def _tab(lines: _Lines, at: _At, problem: str, context: str, _cm: _Mark) -> Explained | None:
    if not problem.startswith("found character '\\t' that cannot start any token"):
        return None
    line, column = at
    before = lines[line].text[: column - 1]
    where = f"a tab character at line {line}, column {column}"
    if not before.strip(" \t-"):
        return Explained(
            line, column, f"{where}: YAML indents with spaces, never tabs; replace it with spaces"
        )
    return Explained(
        line,
        column,
        f"{where}: outside quotes YAML takes no tabs; replace it with a space "
        "(or put the value in quotes)",
    )


def _bad_start(lines: _Lines, at: _At, problem: str, context: str, _cm: _Mark) -> Explained | None:
    found = re.fullmatch(r"found character '(.)' that cannot start any token", problem)
    if found is None:
        return None
    char = found.group(1)
    line, column = at
    info = lines[line]
    key, value = _plain(info.key or ""), _plain(info.value)
    example = (
        f', like {key}: "{value}"'
        if key and value and value.startswith(char) and '"' not in value
        else ""
    )
    return Explained(
        line,
        column,
        f"a value cannot begin with {char!r} in YAML (line {line}, column {column}): "
        f"put it in quotes{example}",
    )


def _quote(lines: _Lines, at: _At, problem: str, context: str, cm: _Mark) -> Explained | None:
    if "quoted scalar" not in context or cm is None:
        return None
    line, column = cm.line + 1, cm.column + 1
    char = lines[line].text[column - 1 : column] or '"'
    char = char if char in _QUOTES else '"'
    if problem in ("found unexpected end of stream", "found unexpected document separator"):
        hint = " (inside '...' an apostrophe is written '')" if char == "'" else ""
        return Explained(
            line,
            column,
            f"the quote {char} opened at line {line}, column {column} is never closed: "
            f"end the value with {char}{hint}",
        )
    escape = re.fullmatch(r"found unknown escape character '?(.+?)'?", problem)
    if escape is not None:
        where, after = at
        return Explained(
            where,
            max(1, after - 1),
            f"'\\{escape.group(1)}' is not an escape YAML knows inside double quotes: write "
            "\\\\ for a backslash, or put the value in single quotes",
        )
    return None


def _missing_colon(
    lines: _Lines, at: _At, problem: str, context: str, cm: _Mark
) -> Explained | None:
    if problem != "could not find expected ':'" or cm is None:
        return None
    line = lines[cm.line + 1]
    if line.key is not None and len(line.key) >= _LONGEST_KEY:
        return Explained(
            line.number,
            line.key_column + 1,
            f"the key on line {line.number} is longer than YAML reads as a key "
            f"({_LONGEST_KEY:,} characters); a lesson's keys are short names",
        )
    return _no_colon(line)


def _no_colon(line: _Line) -> Explained | None:
    """The line is a key without its ':'."""
    word = line.first_word
    if not word:
        return None
    column = line.content_column + len(word) + 1
    rest = line.text[line.content_column + len(word) :].strip(" \t")
    equals = rest.startswith("=")
    key, value = _plain(word), _plain(rest[1:].strip(" \t") if equals else rest or "...")
    example = f": {key}: {value}" if key and value else ""
    if equals:
        return Explained(
            line.number,
            column,
            f"missing ':' after {quoted(word)} on line {line.number}? YAML writes a key with "
            f"':', not '='{example}",
        )
    return Explained(
        line.number,
        column,
        f"missing ':' after {quoted(word)} on line {line.number} ({line.shown})? "
        f"A key and its value are written with ':' and a space{example}",
    )


def _mapping_value(
    lines: _Lines, at: _At, problem: str, context: str, _cm: _Mark
) -> Explained | None:
    if problem != "mapping values are not allowed here":
        return None
    line, column = at
    here = lines[line]
    if here.key is not None and here.key_column + len(here.key) < column - 1:
        # The colon comes after the line's own key: it is inside the value.
        key, value = _plain(here.key), _plain(here.value, 40)
        example = f', like {key}: "{value}"' if key and value and '"' not in value else ""
        return Explained(
            line,
            column,
            f"the value of {quoted(here.key)} on line {line} holds ': ', which YAML reads as "
            f"another key: put the value in quotes{example}",
        )
    above = lines.above(line)
    if above is None:
        return None
    glued = _glued(above.text) if above.key is None else None
    if glued is not None:
        start, colon, stop = glued
        key, value = _plain(above.text[start:colon]), _plain(above.text[colon + 1 : stop])
        example = f": write {key}: {value}" if key and value else ""
        return Explained(
            above.number,
            colon + 1,
            f"missing space after ':' on line {above.number} "
            f"({quoted(above.text[start:stop])}){example}",
        )
    if above.key is not None and above.value and here.indent > above.key_column:
        name = here.key or here.first_word
        return Explained(
            line,
            here.indent + 1,
            f"line {line} ({here.shown}) is indented more than the key above it "
            f"({quoted(above.key)} on line {above.number}, which already has a value): "
            f"give {quoted(name)} the same indentation as {quoted(above.key)} "
            f"({_spaces(above.key_column)})",
        )
    if above.key is None and not above.text.lstrip(" ").startswith(("-", "[", "{", *_QUOTES)):
        return _no_colon(above)
    return None


def _glued(text: str) -> tuple[int, int, int] | None:
    """Where the first word of ``text`` with a ':' inside it ("type:convolution") starts,
    where its ':' is and where it ends (from 0)."""
    colon = text.find(":")
    while colon != -1:
        before, after = text[colon - 1 : colon], text[colon + 1 : colon + 2]
        if before and before not in " \t:" and after and after not in " \t:":
            start = max(text.rfind(" ", 0, colon), text.rfind("\t", 0, colon)) + 1
            if text.startswith("-", start):  # a list item's dash, written without its space
                start += 1
            end = _WORD.match(text, colon + 1)
            return start, colon, end.end() if end is not None else len(text)
        colon = text.find(":", colon + 1)
    return None


def _block_end(lines: _Lines, at: _At, problem: str, context: str, cm: _Mark) -> Explained | None:
    found = re.fullmatch(r"expected <block end>, but found '(.+)'", problem)
    if found is None:
        return None
    token = found.group(1)
    line, column = at
    here = lines[line]
    if token in _OPENERS:
        return Explained(
            line,
            column,
            f"a {token!r} at line {line}, column {column} closes no {_OPENERS[token]!r}: remove "
            f"it (or add the {_OPENERS[token]!r} it belongs to)",
        )
    if token == ":":
        return Explained(
            line, column, f"a ':' at line {line}, column {column} has no key before it"
        )
    before = here.text[: column - 1].rstrip(" \t")
    if before.strip(" -"):  # more on the line after a value that was complete
        last = before[-1]
        if last in _QUOTES:
            hint = (
                " (an apostrophe inside '...' is written '')"
                if last == "'"
                else ' (a quote inside "..." is written \\")'
            )
            return Explained(
                line,
                column,
                f"text after the closing quote {last} at line {line}, column {column}: put the "
                f"whole value inside the quotes{hint}",
            )
        if last in _OPENERS:
            return Explained(
                line,
                column,
                f"text after the closing {last!r} at line {line}, column {column}: a value in "
                "brackets must be the whole value (or put it all in quotes)",
            )
        return None
    return _indentation(lines, here, column - 1, token, context, cm)


def _top(lines: _Lines, at: _At, problem: str, context: str, _cm: _Mark) -> Explained | None:
    """The document's first line is indented, and a later one less."""
    if not problem.startswith("expected '<document start>', but found"):
        return None
    first = next((lines[n] for n in range(1, at[0]) if not lines[n].blank), None)
    line, column = at
    here = lines[line]
    if first is None or here.blank or here.indent >= first.indent:
        return None
    return Explained(
        line,
        column,
        f"line {line} ({here.shown}) is indented less than line {first.number} "
        f"({first.shown}, at {_spaces(first.indent)}): the top-level keys must line up; "
        "begin each of them in the first column",
    )


def _indentation(
    lines: _Lines, here: _Line, indent: int, token: str, context: str, cm: _Mark
) -> Explained | None:
    """A line whose indentation does not fit the block it is in."""
    item = token in ("-", "<block sequence start>")
    if cm is not None and cm.column == indent:
        if item and "block mapping" in context:
            sibling = next(
                (
                    lines[n]
                    for n in range(here.number - 1, 0, -1)
                    if lines[n].key is not None and lines[n].key_column == indent
                ),
                None,
            )
            like = f" like {quoted(sibling.key)} (line {sibling.number})" if sibling else ""
            return Explained(
                here.number,
                indent + 1,
                f"line {here.number} ({here.shown}) starts a list item ('- ') among keys{like}: "
                "remove the '- ', or put the list under a key of its own, indented more",
            )
        if not item and "block collection" in context:
            dash = lines[cm.line + 1]
            inside = dash.key_column if dash.key is not None else indent + 2
            return Explained(
                here.number,
                indent + 1,
                f"line {here.number} ({here.shown}) is a key at the indentation of the '-' "
                f"on line {dash.number}: indent it by {_spaces(inside)} to put it in that "
                "item, or begin a new item with '- '",
            )
    deeper: tuple[int, str, int] | None = None  # column, what, line
    shallower: tuple[int, str, int] | None = None
    number = here.number
    while shallower is None:
        above = lines.above(number)
        if above is None:
            break
        number = above.number
        for column, what in sorted(above.columns(item)):
            if column < indent:
                shallower = (column, what, number)
            elif column > indent and (deeper is None or column < deeper[0]):
                deeper = (column, what, number)
    points = [
        f"{quoted(point[1])} on line {point[2]} is at {_spaces(point[0])}"
        for point in (deeper, shallower)
        if point is not None
    ]
    if not points:
        return None
    belongs = "the list item" if item else "the key"
    return Explained(
        here.number,
        indent + 1,
        f"line {here.number} ({here.shown}) is indented {_spaces(indent)}, which lines up "
        f"with nothing above it: {', '.join(points)}; indent it like {belongs} it belongs with",
    )


def _flow(lines: _Lines, at: _At, problem: str, context: str, cm: _Mark) -> Explained | None:
    if "flow" not in context:
        return None
    line, column = at
    found = re.fullmatch(r"expected ',' or '([\]}])', but got '(.+)'", problem)
    if found is None:
        if problem.endswith("'<stream end>'"):
            return _unclosed(lines)
        return None
    closer, got = found.groups()
    opener = _OPENERS[closer]
    here = lines[line]
    block_line = here.key is not None and here.key_column == here.content_column
    new_line = cm is not None and line > cm.line + 1 and (block_line or bool(here.dashes))
    if got == "<stream end>" or new_line:
        if cm is None:
            return _unclosed(lines)
        return Explained(
            cm.line + 1,
            cm.column + 1,
            f"the {opener!r} opened at line {cm.line + 1}, column {cm.column + 1} is never "
            f"closed: add {closer!r} at the end of its value",
        )
    if got == ":":
        return Explained(
            line,
            column,
            f"a value inside {opener}...{closer} holds ':' at line {line}, column {column}: "
            "put that value in quotes",
        )
    return Explained(
        line,
        column,
        f"missing ',' before line {line}, column {column}? The items inside "
        f"{opener}...{closer} are separated by commas",
    )


def _unclosed(lines: _Lines) -> Explained | None:
    """The first bracket never closed, found by YAML's own scanner."""
    open_: list[Token] = []
    try:
        for token in yaml.scan(lines.text, Loader=yaml.SafeLoader):
            if isinstance(token, FlowSequenceStartToken | FlowMappingStartToken):
                open_.append(token)
            elif isinstance(token, FlowSequenceEndToken | FlowMappingEndToken) and open_:
                open_.pop()
    except yaml.YAMLError:
        pass
    if not open_:
        return None
    first = open_[0].start_mark
    opener = "[" if isinstance(open_[0], FlowSequenceStartToken) else "{"
    line, column = first.line + 1, first.column + 1
    return Explained(
        line,
        column,
        f"the {opener!r} opened at line {line}, column {column} is never closed: add "
        f"{_CLOSERS[opener]!r} at the end of its value",
    )


def _marker(lines: _Lines, at: _At, problem: str, context: str, cm: _Mark) -> Explained | None:
    """'&', '*', '|' and '>' begin anchors, aliases and block texts in YAML."""
    line, column = at
    alias = re.fullmatch(r"found undefined alias '?(.+?)'?", problem)
    if alias is not None:
        return Explained(
            line,
            column,
            f"{quoted('*' + alias.group(1))} names an anchor {quoted('&' + alias.group(1))} "
            "that is not defined: a value that begins with '*' must be in quotes",
        )
    if ("scanning an alias" in context or "scanning an anchor" in context) and cm is not None:
        char = "*" if "alias" in context else "&"
        return Explained(
            cm.line + 1,
            cm.column + 1,
            f"a value that begins with {char!r} must be in quotes (YAML reads {char} as the "
            f"start of an {'alias' if char == '*' else 'anchor'})",
        )
    if "scanning a block scalar" in context and cm is not None:
        return Explained(
            cm.line + 1,
            cm.column + 1,
            "after '|' or '>' YAML expects the end of the line, and the text on the lines "
            "below it, indented; put a one-line value in quotes instead",
        )
    return None
