"""``cnnlesson new``: a commented lesson file to start from."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..quoting import quoted
from ..visuals.theme import configs_dir

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

TEMPLATE = """\
# yaml-language-server: $schema={schema}
# A cnnlesson lesson. Check it with `cnnlesson validate {path}`,
# look at one step with `cnnlesson preview {path} --step 2`,
# render it with `cnnlesson render {path}`. `cnnlesson steps` lists every
# step type with its fields.
title: {title}
model: default            # default | cnn-explainer | a trained model's name | a path
image: star_1             # a sample name (lessons/images) or a path relative to this file
theme: cnn-explainer      # cnn-explainer | dark | colorblind | ./my-theme.yaml (theme new)
aspect: "16:9"            # 16:9 | 9:16 | 1:1
language: en              # en | de | fr: labels, numbers, page and captions
# voice: en               # speak the narration with espeak-ng (en, de, fr, ...)
# focus: {{neuron: 3}}      # the channel convolution, ReLU and pooling steps show by default
steps:
  - type: title
    text: {title}
    narration: >-
      One or two sentences a learner hears or reads as a caption.
  - type: convolution
    layer: conv_1_1         # a convolution layer of the model
    neuron: 0               # its output channel (0-9); without it, the lesson's focus
    channel: 0              # the input channel shown in detail
    positions: 3            # windows explained number by number before the sweep
    narration:              # cues, each tied to a phase (`cnnlesson steps convolution`)
      - say: The kernel meets the first window of the image.
        at: window 1
      - say: Sliding it over every position fills the whole map.
        at: sweep
        # audio: voice/sweep.wav   # your own recording, relative to this file
      - say: The model predicts {{prediction}} with probability {{probability}}.
        at: result
"""


class ScaffoldError(ValueError):
    pass


def scaffold(name: str, folder: Path) -> Path:
    """Write ``folder/name.yaml``; refuses to overwrite an existing file."""
    if not NAME.match(name):
        raise ScaffoldError(
            "lesson name must be ASCII letters and digits, '-' or '_' (at most 64, starting "
            f"with a letter or digit), got {quoted(name)}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    if path.exists():
        raise ScaffoldError(f"{path} already exists; choose another name")
    schema = Path(os.path.relpath(configs_dir() / "lesson.schema.json", folder.resolve()))
    title = name.replace("-", " ").replace("_", " ").capitalize()
    text = TEMPLATE.format(schema=schema.as_posix(), path=path.as_posix(), title=title)
    with open(path, "x", encoding="utf-8") as handle:
        handle.write(text)
    return path
