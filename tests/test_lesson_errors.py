"""Malformed lessons: every error reported at once, with its exact text and place."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from scenes.lesson.errors import display_path
from scenes.lesson.load import load_lesson, validate_lesson
from scenes.lesson.source import parse
from scenes.steps import registry

STEP_TYPES = ", ".join(sorted(__import__("scenes.steps", fromlist=["names"]).names()))
CONV_LAYERS = "conv_1_1, conv_1_2, conv_2_1, conv_2_2"

# name: (lesson text, [expected "LINE:COL: path: message" lines])
CASES: dict[str, tuple[str, list[str]]] = {
    "yaml syntax": (
        "title: x\nsteps: [\n",
        [
            "2:8: YAML syntax error: the '[' opened at line 2, column 8 is never closed: "
            "add ']' at the end of its value"
        ],
    ),
    "tab indentation": (
        "title: x\nsteps:\n\t- type: title\n",
        [
            "3:1: YAML syntax error: a tab character at line 3, column 1: YAML indents with "
            "spaces, never tabs; replace it with spaces"
        ],
    ),
    "duplicate key": (
        "title: a\ntitle: b\nsteps:\n  - type: title\n    text: hi\n",
        ["2:1: title: duplicate key (first given on line 1)"],
    ),
    "top level list": (
        "- type: title\n",
        ["1:1: expected a mapping with keys like 'title' and 'steps' at the top level, got a list"],
    ),
    "top level scalar": (
        "hello\n",
        [
            "1:1: expected a mapping with keys like 'title' and 'steps' at the top level, "
            "got a single value ('hello')"
        ],
    ),
    "empty file": ("", ["1:1: the file is empty; a lesson needs a title and steps"]),
    "missing title": (
        "steps:\n  - type: title\n    text: hi\n",
        ["1:1: title: required field is missing"],
    ),
    "missing steps": (
        "title: x\n",
        ["1:1: steps: required field is missing (or give `lessons` for a course)"],
    ),
    "empty steps": (
        "title: x\nsteps: []\n",
        ["2:8: steps: expected at least one item, got an empty list"],
    ),
    "unknown lesson key": (
        "title: x\nstepz: []\nsteps:\n  - type: title\n    text: hi\n",
        ["2:1: stepz: unknown field (did you mean 'steps'?)"],
    ),
    "unknown step key": (
        "title: x\nsteps:\n  - type: convolution\n    neurn: 2\n",
        ["4:5: steps[0].neurn: unknown field (did you mean 'neuron'?)"],
    ),
    "unknown step type": (
        "title: x\nsteps:\n  - type: convolutoin\n",
        [
            f"3:11: steps[0].type: unknown step type 'convolutoin' (did you mean 'convolution'?); "
            f"known step types: {STEP_TYPES}"
        ],
    ),
    "step without type": (
        "title: x\nsteps:\n  - text: hi\n",
        [f"3:5: steps[0]: missing 'type'; known step types: {STEP_TYPES}"],
    ),
    "step not a mapping": (
        "title: x\nsteps:\n  - title\n",
        ["3:5: steps[0]: expected a mapping with a 'type', got 'title' (text)"],
    ),
    "text for an integer": (
        "title: x\nsteps:\n  - type: convolution\n    neuron: two\n",
        ["4:13: steps[0].neuron: expected an integer ≥ 0, got 'two' (text)"],
    ),
    "fraction for an integer": (
        "title: x\nsteps:\n  - type: convolution\n    positions: 2.5\n",
        ["4:16: steps[0].positions: expected an integer from 0 to 40, got 2.5"],
    ),
    "negative positions": (
        "title: x\nsteps:\n  - type: convolution\n    positions: -1\n",
        ["4:16: steps[0].positions: expected an integer from 0 to 40, got -1"],
    ),
    "neuron beyond the layer": (
        "title: x\nsteps:\n  - type: convolution\n    neuron: 10\n",
        ["4:13: steps[0].neuron: expected a neuron from 0 to 9 (conv_1_1 has 10 neurons), got 10"],
    ),
    "input channel beyond the input": (
        "title: x\nsteps:\n  - type: convolution\n    layer: conv_1_1\n    channel: 3\n",
        [
            "5:14: steps[0].channel: expected an input channel from 0 to 2 "
            "(conv_1_1 reads 3 channels from input), got 3"
        ],
    ),
    "layer of the wrong kind": (
        "title: x\nsteps:\n  - type: convolution\n    layer: relu_1_1\n",
        [
            f"4:12: steps[0].layer: expected a convolution layer ({CONV_LAYERS}), "
            "got 'relu_1_1', a relu layer"
        ],
    ),
    "layer the model lacks": (
        "title: x\nsteps:\n  - type: convolution\n    layer: conv_3_1\n",
        [f"4:12: steps[0].layer: expected a convolution layer ({CONV_LAYERS}), got 'conv_3_1'"],
    ),
    "stride zero": (
        "title: x\nsteps:\n  - type: hyperparameters\n    stride: 0\n",
        ["4:13: steps[0].stride: expected an integer from 1 to 8, got 0"],
    ),
    "stride that cannot slide symmetrically": (
        "title: x\nsteps:\n  - type: hyperparameters\n    input_size: 5\n    kernel_size: 3\n"
        "    padding: 0\n    stride: 3\n",
        [
            "7:13: steps[0].stride: the kernel cannot slide symmetrically: W − K + 2P = 5 − 3 + 2·0 "
            "= 2 is not divisible by stride 3; nearest valid strides: 2 (or set allow_invalid: "
            "true to show it as invalid)"
        ],
    ),
    "kernel larger than the padded input": (
        "title: x\nsteps:\n  - type: hyperparameters\n    input_size: 3\n    kernel_size: 7\n"
        "    padding: 1\n",
        [
            "5:18: steps[0].kernel_size: expected a kernel no larger than the padded input "
            "(W + 2P = 3 + 2·1 = 5), got 7"
        ],
    ),
    "gigantic padding": (
        "title: x\nsteps:\n  - type: hyperparameters\n    padding: 1000000000\n",
        ["4:14: steps[0].padding: expected an integer from 0 to 4, got 1000000000"],
    ),
    "invalid setting inside compare": (
        "title: x\nsteps:\n  - type: hyperparameters\n    compare:\n"
        "      - {input_size: 6, kernel_size: 3, stride: 2}\n",
        [
            "5:49: steps[0].compare[0].stride: the kernel cannot slide symmetrically: W − K + 2P = "
            "6 − 3 + 2·0 = 3 is not divisible by stride 2; nearest valid strides: 1 or 3 (or set "
            "allow_invalid: true to show it as invalid)"
        ],
    ),
    "ragged matrix": (
        "title: x\nsteps:\n  - type: custom_convolution\n    input: [[1, 2, 3], [4, 5]]\n"
        "    kernel: [[1]]\n",
        [
            "4:24: steps[0].input[1]: expected 3 numbers like row 0 (rows must be equally long), got 2"
        ],
    ),
    "non-numeric matrix": (
        "title: x\nsteps:\n  - type: custom_convolution\n    input: [[1, a], [3, 4]]\n"
        "    kernel: [[1]]\n",
        ["4:17: steps[0].input[0][1]: expected a number, got 'a' (text)"],
    ),
    "unknown theme": (
        "title: x\ntheme: drak\nsteps:\n  - type: title\n    text: hi\n",
        [
            "2:8: theme: unknown theme 'drak' (did you mean 'dark'?); known themes: "
            "cnn-explainer, colorblind, dark"
        ],
    ),
    "unknown aspect": (
        "title: x\naspect: '4:3'\nsteps:\n  - type: title\n    text: hi\n",
        ["2:9: aspect: expected one of '16:9', '9:16', '1:1', got '4:3' (text)"],
    ),
    "unknown model": (
        "title: x\nmodel: resnet\nsteps:\n  - type: title\n    text: hi\n",
        [
            "2:8: model: unknown model 'resnet'; known models: default, cnn-explainer "
            "(or give a path to a .safetensors file, from the lesson's folder)"
        ],
    ),
    "Python object tag": (
        "title: !!python/object/apply:os.system ['echo hi']\nsteps:\n  - type: title\n    text: hi\n",
        [
            "1:8: title: the YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not "
            "allowed (plain values only)"
        ],
    ),
    "alias bomb": (
        "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\ntitle: x\nsteps: []\n",
        [
            "1:1: the document holds more than 20,000 values (counting each use of an alias); "
            "a lesson needs far fewer, so it is refused"
        ],
    ),
    "unknown narration placeholder": (
        "title: x\nsteps:\n  - type: title\n    text: hi\n    narration: It is a {predicton}.\n",
        [
            "5:16: steps[0].narration: unknown placeholder 'predicton' (did you mean 'prediction'?); "
            "known placeholders: prediction, probability, percent, second, second_probability, "
            "model, classes (write {{ and }} for literal braces)"
        ],
    ),
    "number for a title": (
        "title: 5\nsteps:\n  - type: title\n    text: hi\n",
        ["1:8: title: expected text, got 5; YAML reads 5 as a number: put it in quotes"],
    ),
    "escape beyond Unicode": (
        'title: "\\U00110000"\nsteps:\n  - type: title\n    text: hi\n',
        ["1:11: YAML cannot read this: an escape names no Unicode character (at most \\U0010FFFF)"],
    ),
    "YAML version of 5000 digits": (
        "%YAML 1." + "1" * 5000 + "\n---\ntitle: x\n",
        ["1:9: YAML cannot read this: a number in a directive has far too many digits"],
    ),
    "anchor defined twice": (
        "a: &x 1\nb: &x 2\ntitle: x\n",
        ["2:4: YAML syntax error: the anchor 'x' is defined twice (first on line 1)"],
    ),
    "control character in a file with CR line ends": (
        "title: x\rsteps:\r  - type: title\r    text: T\x07\r",
        [
            "4:12: YAML cannot hold the character U+0007 here; "
            "write it as an escape in double quotes or remove it"
        ],
    ),
    "plain values YAML reads as other kinds": (
        "title: 12:30\nsteps:\n  - type: title\n    text: Yes\n    subtitle: 2024-01-01\n"
        "  - type: classify\n    top: 3.0\n",
        [
            "1:8: title: expected text, got 750; YAML reads 12:30 as a number: put it in quotes",
            "4:11: steps[0].text: expected text, got true (true/false); "
            "YAML reads Yes as true/false: put it in quotes",
            "5:15: steps[0].subtitle: expected text, got the date 2024-01-01; "
            "YAML reads 2024-01-01 as a date: put it in quotes",
            "7:10: steps[1].top: expected an integer from 1 to 20, got 3.0",
        ],
    ),
    "invisible character in a key": (
        "title: x\nsteps:\n  - \u2060type: title\n    text: hi\n",
        [
            "3:5: steps[0]: a key that holds an invisible character (U+2060); type the key anew",
        ],
    ),
    "long unknown values are cut": (
        "title: x\nsteps:\n  - type: " + "x" * 300_000 + "\n",
        [
            "3:11: steps[0].type: unknown step type 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'; "
            "known step types: " + ", ".join(registry.names())
        ],
    ),
    "boolean for a number": (
        "title: x\nwords_per_minute: yes\nsteps:\n  - type: title\n    text: hi\n",
        ["2:19: words_per_minute: expected an integer from 60 to 400, got true (true/false)"],
    ),
    "missing step field": (
        "title: x\nsteps:\n  - type: title\n",
        ["3:5: steps[0].text: required field is missing"],
    ),
    "steps null": (
        "title: x\nsteps:\n",
        ["2:7: steps: expected a non-empty list of steps, got null"],
    ),
    "unquoted aspect": (
        "title: x\naspect: 9:16\nsteps:\n  - type: title\n    text: hi\n",
        [
            '2:9: aspect: expected "16:9", "9:16" or "1:1" in quotes, got the number 556 '
            '(YAML reads an unquoted 9:16 as a number: write aspect: "9:16")'
        ],
    ),
    "placeholder format": (
        "title: x\nsteps:\n  - type: title\n    text: hi\n    narration: p = {probability:d}\n",
        [
            "5:16: steps[0].narration: cannot fill the placeholders in this text (ValueError: "
            "Unknown format code 'd' for object of type 'str'); write them plainly, like "
            "{prediction}"
        ],
    ),
    "deep nesting": (
        "title: x\nsteps:\n  - type: title\n    text: " + "[" * 60 + "]" * 60 + "\n",
        ["4:59: values nest more than 50 levels; refusing them"],
    ),
    "nesting past the parser": (
        "title: x\nsteps:\n  - type: title\n    text: " + "[" * 2000 + "]" * 2000 + "\n",
        ["1:1: the YAML nests too deeply to read; refusing it"],
    ),
    "parse errors do not stop the checks": (
        "title: x\ntitle: y\ntheme: drak\nsteps:\n  - type: title\n    text: !!python/name:os.system\n"
        "  - type: titel\n",
        [
            "2:1: title: duplicate key (first given on line 1)",
            "3:8: theme: unknown theme 'drak' (did you mean 'dark'?); known themes: "
            "cnn-explainer, colorblind, dark",
            "6:11: steps[0].text: the YAML tag 'tag:yaml.org,2002:python/name:os.system' is not "
            "allowed (plain values only)",
            "7:5: steps[1].text: required field is missing",
            f"7:11: steps[1].type: unknown step type 'titel' (did you mean 'title'?); known step "
            f"types: {STEP_TYPES}",
        ],
    ),
    "a misspelt step type is checked as the type it most likely means": (
        "title: x\nsteps:\n  - type: convolutoin\n    layer: conv_1\n    neuron: 12\n"
        "  - type: rleu\n    patch_size: 9\n    narration:\n      - say: Hi.\n        at: graf\n",
        [
            "3:11: steps[0].type: unknown step type 'convolutoin' (did you mean 'convolution'?); "
            f"known step types: {STEP_TYPES}",
            f"4:12: steps[0].layer: expected a convolution layer ({CONV_LAYERS}), got 'conv_1'",
            "5:13: steps[0].neuron: expected a neuron from 0 to 9 (every convolution layer of "
            "model 'default' has 10 neurons), got 12",
            f"6:11: steps[1].type: unknown step type 'rleu' (did you mean 'relu'?); known step "
            f"types: {STEP_TYPES}",
            "7:17: steps[1].patch_size: expected an integer from 2 to 5, got 9",
            "10:13: steps[1].narration[0].at: a relu step has no phase 'graf' (did you mean "
            "'graph'?); its phases: graph, examples, maps, zeros, sweep",
        ],
    ),
    "an unknown step type without a close match is not guessed at": (
        "title: x\nsteps:\n  - type: xyzzy\n    neurn: 2\n    narration:\n"
        "      - say: Hi.\n        at: nowhere\n",
        [f"3:11: steps[0].type: unknown step type 'xyzzy'; known step types: {STEP_TYPES}"],
    ),
    "a neuron no layer of the kind has, beside an unknown layer": (
        "title: x\nsteps:\n  - type: max_pool\n    layer: max_pool_3\n    neuron: 10\n",
        [
            "4:12: steps[0].layer: expected a max-pool layer (max_pool_1, max_pool_2), "
            "got 'max_pool_3'",
            "5:13: steps[0].neuron: expected a neuron from 0 to 9 (every max-pool layer of "
            "model 'default' has 10 neurons), got 10",
        ],
    ),
    "header errors do not stop the checks": (
        "title: [1]\ntheme: drak\nsteps:\n  - type: title\n    text: hi\n",
        [
            "1:8: title: expected text, got a list of 1 item",
            "2:8: theme: unknown theme 'drak' (did you mean 'dark'?); known themes: "
            "cnn-explainer, colorblind, dark",
        ],
    ),
    "every error at once": (
        "title: x\ntheme: nope\nsteps:\n  - type: convolution\n    neuron: 12\n    positions: -3\n"
        "  - type: hyperparameters\n    stride: 0\n  - type: title\n    wobble: hi\n",
        [
            "2:8: theme: unknown theme 'nope'; known themes: cnn-explainer, colorblind, dark",
            "6:16: steps[0].positions: expected an integer from 0 to 40, got -3",
            "8:13: steps[1].stride: expected an integer from 1 to 8, got 0",
            "9:5: steps[2].text: required field is missing",
            "10:5: steps[2].wobble: unknown field; a title step's fields are: title, chapter, "
            "narration, text, subtitle",
        ],
    ),
}


LESSON_HEAD = "title: Syntax\nsteps:\n  - type: convolution\n"
# The common mistakes in YAML, each as a lesson written with it: (text, line, column,
# message). The parser's own words for these ("expected <block end>, but found '?'")
# name neither the mistake nor the fix.
SYNTAX_CASES: dict[str, tuple[str, int, int, str]] = {
    "a line indented more than the key above it": (
        LESSON_HEAD + "    layer: conv_1_1\n      neuron: 3\n",
        5,
        7,
        "line 5 ('neuron: 3') is indented more than the key above it ('layer' on line 4, which "
        "already has a value): give 'neuron' the same indentation as 'layer' (4 spaces)",
    ),
    "a line indented less than the key above it": (
        LESSON_HEAD + "    layer: conv_1_1\n   neuron: 3\n",
        5,
        4,
        "line 5 ('neuron: 3') is indented 3 spaces, which lines up with nothing above it: "
        "'layer' on line 4 is at 4 spaces, 'steps' on line 2 is at 0 spaces; indent it like "
        "the key it belongs with",
    ),
    "a key at the indentation of the list's dash": (
        LESSON_HEAD + "  layer: conv_1_1\n",
        4,
        3,
        "line 4 ('layer: conv_1_1') is a key at the indentation of the '-' on line 3: indent "
        "it by 4 spaces to put it in that item, or begin a new item with '- '",
    ),
    "a list item indented one space too few": (
        LESSON_HEAD + "    layer: conv_1_1\n - type: relu\n",
        5,
        2,
        "line 5 ('- type: relu') is indented 1 space, which lines up with nothing above it: "
        "'-' on line 3 is at 2 spaces, 'steps' on line 2 is at 0 spaces; indent it like the "
        "list item it belongs with",
    ),
    "a list item among keys": (
        LESSON_HEAD + "    layer: conv_1_1\n    - neuron: 3\n",
        5,
        5,
        "line 5 ('- neuron: 3') starts a list item ('- ') among keys like 'layer' (line 4): "
        "remove the '- ', or put the list under a key of its own, indented more",
    ),
    "a first line indented": (
        "  title: Syntax\nsteps: []\n",
        2,
        1,
        "line 2 ('steps: []') is indented less than line 1 ('title: Syntax', at 2 spaces): the "
        "top-level keys must line up; begin each of them in the first column",
    ),
    "a tab in the indentation": (
        LESSON_HEAD + "\tlayer: conv_1_1\n",
        4,
        1,
        "a tab character at line 4, column 1: YAML indents with spaces, never tabs; replace it "
        "with spaces",
    ),
    "a tab after a key": (
        LESSON_HEAD + "    layer:\tconv_1_1\n",
        4,
        11,
        "a tab character at line 4, column 11: outside quotes YAML takes no tabs; replace it "
        "with a space (or put the value in quotes)",
    ),
    "a missing colon": (
        LESSON_HEAD + "    layer conv_1_1\n    neuron: 3\n",
        4,
        10,
        "missing ':' after 'layer' on line 4 ('layer conv_1_1')? A key and its value are "
        "written with ':' and a space: layer: conv_1_1",
    ),
    "a missing colon before a line of the same indentation": (
        "title Syntax\nsteps: []\n",
        1,
        6,
        "missing ':' after 'title' on line 1 ('title Syntax')? A key and its value are written "
        "with ':' and a space: title: Syntax",
    ),
    "an equals sign for a colon": (
        "title = Syntax\nsteps: []\n",
        1,
        6,
        "missing ':' after 'title' on line 1? YAML writes a key with ':', not '=': title: Syntax",
    ),
    "a missing space after the colon": (
        "title: Syntax\nsteps:\n  - type:convolution\n    layer: conv_1_1\n",
        3,
        9,
        "missing space after ':' on line 3 ('type:convolution'): write type: convolution",
    ),
    "a colon and a space inside a value": (
        "title: Step 1: the kernel\nsteps: []\n",
        1,
        14,
        "the value of 'title' on line 1 holds ': ', which YAML reads as another key: put the "
        'value in quotes, like title: "Step 1: the kernel"',
    ),
    "an unclosed double quote": (
        'title: "Syntax\nsteps:\n  - type: title\n    text: hi\n',
        1,
        8,
        'the quote " opened at line 1, column 8 is never closed: end the value with "',
    ),
    "an unclosed single quote": (
        LESSON_HEAD + "    narration: 'A kernel\n  - type: relu\n",
        4,
        16,
        "the quote ' opened at line 4, column 16 is never closed: end the value with ' (inside "
        "'...' an apostrophe is written '')",
    ),
    "an apostrophe inside single quotes": (
        LESSON_HEAD + "    narration: 'It's a kernel'\n",
        4,
        20,
        "text after the closing quote ' at line 4, column 20: put the whole value inside the "
        "quotes (an apostrophe inside '...' is written '')",
    ),
    "an unclosed bracket before the next key": (
        "title: x\nsteps:\n  - type: custom_convolution\n    input: [[1, 2], [3, 4]\n"
        "    kernel: [[1]]\n",
        4,
        12,
        "the '[' opened at line 4, column 12 is never closed: add ']' at the end of its value",
    ),
    "an unclosed brace": (
        "title: x\nsteps:\n  - {type: title, text: hi\n",
        3,
        5,
        "the '{' opened at line 3, column 5 is never closed: add '}' at the end of its value",
    ),
    "a bracket that closes nothing": (
        "title: x\nsteps:\n  - type: custom_convolution\n    input: [[1, 2], [3, 4]]]\n",
        4,
        28,
        "a ']' at line 4, column 28 closes no '[': remove it (or add the '[' it belongs to)",
    ),
    "a missing comma in a list": (
        "title: x\nsteps:\n  - type: custom_convolution\n    input: [[1, 2] [3, 4]]\n",
        4,
        20,
        "missing ',' before line 4, column 20? The items inside [...] are separated by commas",
    ),
    "a value beginning with a character YAML reserves": (
        "title: @home\nsteps: []\n",
        1,
        8,
        "a value cannot begin with '@' in YAML (line 1, column 8): put it in quotes, like "
        'title: "@home"',
    ),
    "a value beginning with an asterisk": (
        "title: *important\nsteps: []\n",
        1,
        8,
        "'*important' names an anchor '&important' that is not defined: a value that begins "
        "with '*' must be in quotes",
    ),
}


@pytest.mark.parametrize("name", list(SYNTAX_CASES))
def test_yaml_syntax_mistakes_are_explained_in_plain_words(name: str, tmp_path: Path) -> None:
    text, line, column, message = SYNTAX_CASES[name]
    path = tmp_path / "lesson.yaml"
    path.write_text(text, encoding="utf-8")
    (error,) = validate_lesson(path)
    assert (error.line, error.column) == (line, column)
    assert error.message == f"YAML syntax error: {message}"


def test_yaml_syntax_errors_keep_the_parsers_words_for_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "lesson.yaml"
    path.write_text("title: x\n--- !x\n...\n%TAG ! y\n", encoding="utf-8")
    (error,) = validate_lesson(path)
    assert (error.line, error.column) == (5, 1)
    assert error.message == (
        "YAML syntax error: expected '<document start>', but found '<stream end>'"
    )


def test_cli_explains_an_indentation_mistake_with_status_2(tmp_path: Path) -> None:
    path = tmp_path / "indented.yaml"
    path.write_text(SYNTAX_CASES["a line indented more than the key above it"][0])
    done = subprocess.run(
        [sys.executable, "-m", "scenes.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"{path}:5:7: YAML syntax error: line 5 ('neuron: 3') is indented more" in done.stderr
    assert "<block end>" not in done.stderr and "mapping values" not in done.stderr


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_lesson_reports_exact_located_errors(name: str, tmp_path: Path) -> None:
    text, expected = CASES[name]
    path = tmp_path / "lesson.yaml"
    path.write_text(text, encoding="utf-8")
    shown = display_path(path)
    assert [str(e) for e in validate_lesson(path)] == [f"{shown}:{line}" for line in expected]


def test_missing_and_non_image_files_are_located(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("not an image")
    for value, message in (
        ("nothing.png", "no sample called 'nothing.png' and no file "),
        ("notes.png", "not an image in a format read here"),
    ):
        path = tmp_path / "lesson.yaml"
        path.write_text(f"title: x\nimage: {value}\nsteps:\n  - type: title\n    text: hi\n")
        (error,) = validate_lesson(path)
        assert (error.line, error.column, error.path) == (2, 8, "image")
        assert message in error.message


def test_cli_reports_all_errors_with_status_2_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CASES["every error at once"][0])
    for command in ("validate", "render"):
        done = subprocess.run(
            [sys.executable, "-m", "scenes.cli", command, str(path), "-o", str(tmp_path / "out")]
            if command == "render"
            else [sys.executable, "-m", "scenes.cli", command, str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert done.returncode == 2
        assert "Traceback" not in done.stderr
        assert done.stderr.count(str(path)) == 5
        assert "5 errors" in done.stderr
        assert not (tmp_path / "out" / "bad").exists()  # nothing rendered


def test_shipped_lessons_validate() -> None:
    lessons = sorted((ROOT / "lessons").glob("*.yaml"))
    assert lessons
    for path in lessons:
        assert validate_lesson(path) == [], path
        load_lesson(path)


yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True),
    st.text(max_size=12),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "title",
                    "steps",
                    "type",
                    "layer",
                    "neuron",
                    "input",
                    "kernel",
                    "stride",
                    "padding",
                    "theme",
                    "model",
                    "image",
                    "aspect",
                    "narration",
                    "compare",
                    "x",
                ]
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=yaml_values)
def test_random_documents_never_raise(
    document: object, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import yaml

    path = tmp_path_factory.mktemp("fuzz") / "lesson.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    errors = validate_lesson(path)
    assert all(e.line >= 1 and e.column >= 1 for e in errors)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#\n\t 0123456789.%@`,?")), max_size=80
    )
)
def test_random_text_never_raises(text: str) -> None:
    source = parse(text, "fuzz.yaml")
    assert all(e.line >= 1 and e.column >= 1 for e in source.errors)


def test_shipped_json_schema_is_current_and_checks_lessons(tmp_path: Path) -> None:
    import json

    import jsonschema
    import yaml

    from scenes.lesson.schema import json_schema_text

    shipped = ROOT / "configs" / "lesson.schema.json"
    assert shipped.read_text(encoding="utf-8") == json_schema_text(), (
        "configs/lesson.schema.json is stale: run `cnnlesson schema -o configs/lesson.schema.json`"
    )
    schema = json.loads(shipped.read_text(encoding="utf-8"))
    for path in sorted((ROOT / "lessons").glob("*.yaml")):
        assert path.read_text().startswith(
            "# yaml-language-server: $schema=../configs/lesson.schema.json"
        )
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"title": "x", "steps": [{"type": "convolution", "neurn": 1}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"title": "x", "steps": [{"type": "hyperparameters", "stride": 0}]}, schema
        )
    # Theme files have their schema too, made from the same model that validates them.
    from scenes.visuals.theme import theme_schema_text

    shipped = ROOT / "configs" / "theme.schema.json"
    assert shipped.read_text(encoding="utf-8") == theme_schema_text(), (
        "configs/theme.schema.json is stale: run "
        "`cnnlesson theme schema -o configs/theme.schema.json`"
    )
    theme_schema = json.loads(shipped.read_text(encoding="utf-8"))
    themes = sorted((ROOT / "configs" / "themes").glob("*.yaml"))
    assert len(themes) >= 3
    for path in themes:
        assert path.read_text().startswith("# yaml-language-server: $schema=../theme.schema.json")
        jsonschema.validate(yaml.safe_load(path.read_text()), theme_schema)
    theme = yaml.safe_load(themes[0].read_text())
    for key, value in (("background", "blu"), ("text", "#12"), ("font", ""), ("shadow", "#000")):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**theme, key: value}, theme_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**theme, "scales": {**theme["scales"], "logit": "Rdbu"}}, theme_schema)


def test_new_scaffolds_a_lesson_that_validates(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scenes.cli", "new", "my-lesson", "--dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    path = tmp_path / "my-lesson.yaml"
    assert Path(done.stdout.strip()) == path
    text = path.read_text()
    assert text.count("#") >= 5  # commented for the author
    assert validate_lesson(path) == []
    again = subprocess.run(
        [sys.executable, "-m", "scenes.cli", "new", "my-lesson", "--dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 2 and "already exists" in again.stderr
    assert path.read_text() == text


def test_steps_lists_every_type_with_fields_and_defaults() -> None:
    from scenes.steps import registry

    done = subprocess.run(
        [sys.executable, "-m", "scenes.cli", "steps"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0
    for name in registry.names():
        assert f"type: {name}" in done.stdout
    assert "sweep_seconds" in done.stdout and "4.0" in done.stdout
    flat = " ".join(done.stdout.split())
    assert "intro, window 1 … window N (N: positions), sweep, result" in flat
    assert "setting 1 … setting N (N: 1 + compare)" in flat
    bad = subprocess.run(
        [sys.executable, "-m", "scenes.cli", "steps", "convolutoin"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "known step types" in bad.stderr


def test_command_line_overrides_are_validated_like_lesson_keys(tmp_path: Path) -> None:
    lesson = ROOT / "lessons" / "convolution.yaml"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scenes.cli",
            "validate",
            str(lesson),
            "--model",
            "nope",
            "--theme",
            "drak",
            "--image",
            "missing.png",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "command line: --image: no sample called 'missing.png' and no file missing.png; samples: "
        "checkerboard_1, checkerboard_2, circle_1, circle_2, cross_1, cross_2, dots_1, dots_2, "
        "heart_1, heart_2, ring_1, ring_2, ...",
        "command line: --model: unknown model 'nope'; known models: default, cnn-explainer (or give "
        "a path to a .safetensors file)",
        "command line: --theme: unknown theme 'drak' (did you mean 'dark'?); known themes: "
        "cnn-explainer, colorblind, dark",
        "3 errors",
    ]
    # A path on the command line is relative to the working folder, not the lesson.
    image = tmp_path / "mine.png"
    image.write_bytes((ROOT / "lessons" / "images" / "heart_2.png").read_bytes())
    lesson_obj = load_lesson(lesson, {"image": str(image), "aspect": "1:1", "model": None})
    assert lesson_obj.image == image.resolve()
    assert lesson_obj.header.aspect == "1:1"


def test_json_schema_accepts_a_lesson_or_a_course_but_not_both_or_neither() -> None:
    import json

    import jsonschema

    schema = json.loads((ROOT / "configs" / "lesson.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate({"title": "c", "lessons": ["a.yaml"]}, schema)
    jsonschema.validate({"title": "l", "steps": [{"type": "title", "text": "t"}]}, schema)
    for bad in (
        {"title": "x"},
        {"title": "x", "lessons": ["a.yaml"], "steps": [{"type": "title", "text": "t"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_narration_placeholders_make_the_lesson_trace_its_image(tmp_path: Path) -> None:
    path = tmp_path / "only_titles.yaml"
    path.write_text(
        "title: x\nsteps:\n  - type: title\n    text: hi\n    narration: It is a {prediction}.\n"
    )
    lesson = load_lesson(path)
    assert lesson.needs_trace and lesson.model is not None and lesson.image is not None
    path.write_text(
        'title: x\nsteps:\n  - type: title\n    text: hi\n    narration: "Literal {{braces}}"\n'
    )
    assert not load_lesson(path).needs_trace


def test_a_model_path_in_a_lesson_is_relative_to_the_lesson(tmp_path: Path) -> None:
    folder = tmp_path / "course"
    folder.mkdir()
    shipped = ROOT / "cnn_model" / "weights"
    for name in ("default.safetensors", "default.json"):
        (folder / name.replace("default", "mine")).write_bytes((shipped / name).read_bytes())
    path = folder / "lesson.yaml"
    path.write_text("title: x\nmodel: mine.safetensors\nimage: star_1\nsteps:\n  - type: relu\n")
    lesson = load_lesson(path)  # the working folder is not the lesson's
    assert lesson.model is not None and lesson.model.weights == folder / "mine.safetensors"


def test_an_old_field_name_still_works_with_a_located_warning(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text(
        "title: Old names\nsteps:\n  - type: input\n    patch_x: 10\n    patch_y: 12\n",
        encoding="utf-8",
    )
    lesson = load_lesson(path)
    assert (lesson.steps[0].patch_column, lesson.steps[0].patch_row) == (10, 12)  # type: ignore[attr-defined]
    file = display_path(path)
    assert [str(w) for w in lesson.warnings] == [
        f"{file}:4:14: steps[0].patch_x: patch_x is now called patch_column; the old name will go",
        f"{file}:5:14: steps[0].patch_y: patch_y is now called patch_row; the old name will go",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "scenes.cli", "validate", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "4:14: steps[0].patch_x: patch_x is now called patch_column" in done.stderr
    path.write_text("title: Far\nsteps:\n  - type: input\n    patch_x: 70\n", encoding="utf-8")
    assert [str(e) for e in validate_lesson(path)] == [
        f"{file}:4:14: steps[0].patch_x: expected a patch_column from 0 to 59 (the 5×5 patch "
        "must fit in the 64×64 input), got 70"
    ]
    path.write_text(
        "title: Both\nsteps:\n  - type: input\n    patch_x: 10\n    patch_column: 11\n",
        encoding="utf-8",
    )
    assert [str(e) for e in validate_lesson(path)] == [
        f"{file}:4:14: steps[0].patch_x: patch_x is the old name of patch_column, which is "
        "given too; keep patch_column"
    ]


CUE_ERRORS = """\
title: Cues
language: de
steps:
  - type: hyperparameters
    compare:
      - {padding: 1}
    narration:
      - say: Erste Einstellung.
        at: setting 1
        audio: voice/fehlt.wav
      - say: Still.
        audio: voice/still.wav
      - say: Zu früh.
        at: setting 9
  - type: title
    text: Hallo
    narration:
      - sag: Tippfehler.
  - type: relu
    layer: relu_1_1
    narration:
      - say: Am Ende.
        at: sweep
      - say: Zurück.
        at: graph
"""


def test_cue_phases_and_recordings_are_checked_with_their_locations(tmp_path: Path) -> None:
    import wave

    (tmp_path / "voice").mkdir()
    with wave.open(str(tmp_path / "voice" / "still.wav"), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(b"\0\0" * 16000)
    path = tmp_path / "cues.yaml"
    path.write_text(CUE_ERRORS, encoding="utf-8")
    found = {(e.line, e.column, e.path): e.message for e in validate_lesson(path)}
    missing = found.pop((10, 16, "steps[0].narration[0].audio"))
    assert "voice/fehlt.wav" in missing and "no such file" in missing
    silent = found.pop((12, 16, "steps[0].narration[1].audio"))
    assert "voice/still.wav" in silent and "silent" in silent
    unknown = found.pop((14, 13, "steps[0].narration[2].at"))
    assert "no phase 'setting 9'" in unknown and "setting 1, setting 2" in unknown
    typo = found.pop((18, 9, "steps[1].narration[0].sag"))
    assert typo == "unknown field (did you mean 'say'?)"
    backward = found.pop((25, 13, "steps[2].narration[1].at"))
    assert "'graph' comes before 'sweep'" in backward and "graph, examples, maps" in backward
    # The typo's cue lacks its text: reported at the cue, naming the field.
    assert [(k[2], v) for k, v in found.items()] == [
        ("steps[1].narration[0].say", "required field is missing")
    ]


CUES_OF_INVALID_STEPS = """\
title: Cues of steps in error
poster: 4
steps:
  - type: convolution
    positions: -3
    narration:
      - say: A window.
        at: windw 2
      - say: A later window, which positions could give.
        at: window 7
      - say: Unheard.
        audio: gone.wav
  - type: conv_elastic
    layer: conv_9_9
    narration:
      - say: Kernels.
        at: kernel
      - say: The sum.
        at: sum
"""


def test_cues_are_checked_while_other_fields_of_their_step_are_in_error(tmp_path: Path) -> None:
    path = tmp_path / "cues.yaml"
    path.write_text(CUES_OF_INVALID_STEPS, encoding="utf-8")
    file = display_path(path)
    assert [str(e) for e in validate_lesson(path)] == [
        f"{file}:2:9: poster: expected a step number from 1 to 2, got 4",
        f"{file}:5:16: steps[0].positions: expected an integer from 0 to 40, got -3",
        # Which windows there are depends on positions: only a name no convolution
        # step has is an error, while positions is wrong.
        f"{file}:8:13: steps[0].narration[0].at: a convolution step has no phase 'windw 2' "
        "(did you mean 'window 2'?); its phases: intro, window 1 … window N (N: positions), "
        "sweep, result",
        f"{file}:12:16: steps[0].narration[2].audio: {display_path(tmp_path / 'gone.wav')}: "
        "no such file",
        f"{file}:14:12: steps[1].layer: expected a convolution layer ({CONV_LAYERS}), "
        "got 'conv_9_9'",
        f"{file}:17:13: steps[1].narration[0].at: a conv_elastic step has no phase 'kernel' "
        "(did you mean 'kernels'?); its phases: inputs, kernels, intermediates, sum",
    ]


def test_a_narration_that_is_neither_text_nor_cues_says_so(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text("title: x\nsteps:\n  - type: title\n    text: hi\n    narration: 5\n")
    (error,) = validate_lesson(path)
    assert error.path == "steps[0].narration"
    assert error.message.startswith("expected text, or a list of cues (say, at, audio), got 5")


def test_an_unknown_language_lists_the_languages(tmp_path: Path) -> None:
    path = tmp_path / "l.yaml"
    path.write_text("title: x\nlanguage: xx\nsteps:\n  - type: title\n    text: hi\n")
    (error,) = validate_lesson(path)
    assert (error.line, error.path) == (2, "language")
    assert "de" in error.message and "fr" in error.message


def test_translations_that_list_each_other_are_one_error_not_a_loop(tmp_path: Path) -> None:
    body = "title: {t}\nlanguage: {lang}\ntranslations: [{other}]\nsteps:\n  - type: title\n    text: T\n"
    (tmp_path / "a.yaml").write_text(body.format(t="A", lang="en", other="b.yaml"))
    (tmp_path / "b.yaml").write_text(body.format(t="B", lang="de", other="a.yaml"))
    (error,) = validate_lesson(tmp_path / "a.yaml")
    assert (error.line, error.path) == (3, "translations[0]")
    assert "lists translations itself" in error.message


def test_a_translation_needs_the_same_steps_in_another_language(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "title: A\ntranslations: [b.yaml, c.yaml]\nsteps:\n  - type: relu\n"
    )
    (tmp_path / "b.yaml").write_text("title: B\nlanguage: de\nsteps:\n  - type: softmax\n")
    (tmp_path / "c.yaml").write_text("title: C\nsteps:\n  - type: relu\n")
    first, second = validate_lesson(tmp_path / "a.yaml")
    assert first.path == "translations[0]" and "steps in the same order: relu" in first.message
    assert second.path == "translations[1]" and "a language this lesson already has" in (
        second.message
    )
