"""The ``hyperparameters`` step's plan: output sizes and windows against F.conv2d."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from scenes.steps.types.hyperparameters import HyperparametersSpec, SettingPlan, plan
from scenes.visuals.layout import Frame

# (W, P, K, S, allow_invalid): even and uneven slides, padding wider than the
# kernel's reach, a stride larger than the kernel.
SETTINGS = [
    (5, 0, 3, 1, False),
    (7, 1, 3, 2, False),
    (6, 0, 3, 2, True),
    (4, 2, 5, 1, False),
    (9, 1, 2, 4, True),
    (8, 3, 4, 5, True),
]


def torch_windows(sp: SettingPlan) -> tuple[torch.Tensor, torch.Tensor]:
    """What F.conv2d gives with a kernel of ones on an input of distinct values, and
    the same sums over the windows the plan slides (zeros outside the input)."""
    setting = sp.setting
    w, p, k, s = setting.input_size, setting.padding, setting.kernel_size, setting.stride
    values = torch.arange(1, w * w + 1, dtype=torch.float64).reshape(1, 1, w, w)
    expected = F.conv2d(values, torch.ones(1, 1, k, k, dtype=torch.float64), stride=s, padding=p)
    sums = []
    for top, left in sp.windows:
        total = 0.0
        for i in range(top, top + k):
            for j in range(left, left + k):
                if not sp.is_padding(i, j):
                    total += float(values[0, 0, i - p, j - p])
        sums.append(total)
    return expected[0, 0], torch.tensor(sums, dtype=torch.float64)


@pytest.mark.parametrize("aspect", ["16:9", "9:16"])
def test_plan_slides_the_windows_torch_slides(aspect: str) -> None:
    (w, p, k, s, allow), *rest = SETTINGS
    spec = HyperparametersSpec.model_validate(
        {
            "type": "hyperparameters",
            "input_size": w,
            "padding": p,
            "kernel_size": k,
            "stride": s,
            "allow_invalid": allow,
            "compare": [
                {"input_size": w, "padding": p, "kernel_size": k, "stride": s, "allow_invalid": a}
                for w, p, k, s, a in rest
            ],
        }
    )
    planned = plan(spec, None, Frame.for_aspect(aspect))
    assert len(planned.settings) == len(SETTINGS)
    for sp, (w, p, k, s, _) in zip(planned.settings, SETTINGS, strict=True):
        expected, sums = torch_windows(sp)
        # The output grid is torch's, and each window covers what torch's covers.
        assert (sp.out_n, sp.out_n) == tuple(expected.shape)
        assert len(sp.windows) == expected.numel()
        torch.testing.assert_close(sums, expected.reshape(-1), rtol=0, atol=0)
        # (W − K + 2P) / S + 1, written with its numbers, and whether it is whole.
        assert sp.size == pytest.approx((w - k + 2 * p) / s + 1)
        assert sp.valid == ((sp.out_n - 1) * s + k == w + 2 * p)
        assert sp.size_shown.value == sp.size and sp.size_shown.index == (sp.number,)
        assert sp.formula.endswith(f"({w} − {k} + 2·{p}) / {s} + 1 = {sp.size_shown.text}")
        if sp.valid:
            assert sp.size_shown.text == str(sp.out_n) and sp.overhang is None
        else:
            # The window that would be next goes over the padded input's edge.
            assert sp.overhang is not None and sp.overhang[1] + k > w + 2 * p
    assert planned.settings[0].changed == frozenset()
    assert planned.settings[1].changed == {"input_size", "padding", "stride"}
    box = Frame.for_aspect(aspect).content_box()
    assert planned.formula_box.bottom == box.bottom and planned.grids_box.top == box.top
    assert planned.formula_box.top == planned.grids_box.bottom
