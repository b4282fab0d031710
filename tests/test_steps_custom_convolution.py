"""The ``custom_convolution`` step's plan: every window and output against F.conv2d."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from scenes.steps.types.custom_convolution import CustomConvolutionSpec, plan
from scenes.visuals.layout import Frame
from torch_reference import parse_shown

CLASSIC = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
DECIMALS = [[0.5, -1, 2, 0], [1, 0.25, 0, 3], [2, 1, -1.5, 0], [0, 0, 1, 1]]


@pytest.mark.parametrize(
    ("values", "kernel", "stride", "padding", "positions"),
    [
        (CLASSIC, [[1, 0, 1], [0, 1, 0], [1, 0, 1]], 1, 0, 3),
        (DECIMALS, [[1, -0.5], [0.5, 2]], 2, 1, 2),
        (CLASSIC, [[2, -1, 0], [0, 1, -3], [1, 1, 1]], 2, 2, 20),
    ],
)
def test_plan_equals_torch(values, kernel, stride, padding, positions) -> None:
    spec = CustomConvolutionSpec.model_validate(
        {
            "type": "custom_convolution",
            "input": values,
            "kernel": kernel,
            "stride": stride,
            "padding": padding,
            "positions": positions,
        }
    )
    p = plan(spec, None, Frame.for_aspect("9:16"))
    x = torch.tensor(values, dtype=torch.float64)[None, None]
    w = torch.tensor(kernel, dtype=torch.float64)[None, None]
    expected = F.conv2d(x, w, stride=stride, padding=padding)[0, 0]
    # Each window's column, as torch cuts them out of the padded input.
    windows = F.unfold(x, w.shape[-2:], padding=padding, stride=stride)[0].T
    np.testing.assert_allclose(p.result, expected.numpy(), atol=1e-12)
    out_w = expected.shape[1]
    assert len(p.positions) == expected.numel() == len(windows)
    for index, (position, column) in enumerate(zip(p.positions, windows, strict=True)):
        assert (position.y, position.x) == divmod(index, out_w)
        np.testing.assert_allclose(position.window.ravel(), column.numpy(), atol=0)
        output = float(expected[position.y, position.x])
        assert position.output.value == pytest.approx(output, abs=1e-12)
        assert position.output.index == (position.y, position.x)
        assert parse_shown(position.output.text) == pytest.approx(output, abs=0.005 + 1e-9)
        if index >= positions:
            assert position.line is None
            continue
        # The line writes the window times the kernel, term by term, and the output.
        assert position.line is not None
        left, total = position.line.split(" = ")
        assert total == position.output.text
        pairs = [term.split("×") for term in left.split(" + ")]
        np.testing.assert_allclose([parse_shown(a) for a, _ in pairs], column.numpy(), atol=0.005)
        np.testing.assert_allclose(
            [parse_shown(b) for _, b in pairs], w.reshape(-1).numpy(), atol=0.005
        )
    shown_inputs = [
        (number.index, number.value) for row in p.input_texts for number in row if number
    ]
    assert shown_inputs == [
        ((i, j), float(v)) for i, row in enumerate(values) for j, v in enumerate(row)
    ]
    assert p.facts["output_shape"] == list(expected.shape)
