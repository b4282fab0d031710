from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import cnn_model
from cnn_model import store, synthetic, train
from cnn_model.network import TinyVGG, parameter_count
from cnn_model.tinyvgg import CONV_LAYERS, LAYER_NAMES, layer_specs
from conftest import ROOT
from torch_reference import reference_layers


def test_layer_names_and_shapes_match_cnn_explainer() -> None:
    specs = {s.name: s.output_shape for s in layer_specs()}
    assert list(specs) == [
        "input",
        "conv_1_1",
        "relu_1_1",
        "conv_1_2",
        "relu_1_2",
        "max_pool_1",
        "conv_2_1",
        "relu_2_1",
        "conv_2_2",
        "relu_2_2",
        "max_pool_2",
        "flatten",
        "output",
    ]
    assert [specs[n][-1] for n in LAYER_NAMES[:11]] == [64, 62, 62, 60, 60, 30, 28, 28, 26, 26, 13]
    assert specs["flatten"] == (1690,)
    assert specs["output"] == (10,)
    model = TinyVGG()
    outputs = model.forward_layers(torch.zeros(1, 3, 64, 64))
    for name, shape in specs.items():
        assert tuple(outputs[name].shape[1:]) == shape, name


def test_parameter_counts() -> None:
    model = TinyVGG()
    assert parameter_count(model.conv_1_1) == 3 * 10 * 9 + 10
    for name in ("conv_1_2", "conv_2_1", "conv_2_2"):
        assert parameter_count(getattr(model, name)) == 10 * 10 * 9 + 10
    assert parameter_count(model.output) == 1690 * 10 + 10
    assert parameter_count(model) == 19_920
    assert parameter_count(TinyVGG(num_classes=3).output) == 1690 * 3 + 3


def test_trace_equals_torch_functional_layer_by_layer(default_model, star_trace) -> None:
    ref = reference_layers(default_model, star_trace.image)
    for name in LAYER_NAMES:
        got = star_trace.activations[name]
        assert got.dtype == np.float32
        assert got.shape == ref[name].shape, name
        np.testing.assert_allclose(got, ref[name], rtol=0, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(star_trace.logits, ref["output"], atol=1e-6)
    np.testing.assert_allclose(star_trace.probabilities, ref["softmax"], atol=1e-7)
    assert abs(float(star_trace.probabilities.sum()) - 1.0) < 1e-6
    for name in CONV_LAYERS:
        assert star_trace.weights[name].shape == getattr(default_model, name).weight.shape
        np.testing.assert_array_equal(
            star_trace.biases[name], getattr(default_model, name).bias.detach().numpy()
        )
    assert star_trace.weights["output"].shape == (10, 1690)


def test_trace_input_is_pixels_over_255(star_trace) -> None:
    pixels = np.asarray(Image.open(ROOT / "lessons" / "images" / "star_1.png").convert("RGB"))
    np.testing.assert_array_equal(star_trace.image, pixels)
    np.testing.assert_allclose(
        star_trace.activations["input"], pixels.transpose(2, 0, 1).astype(np.float32) / 255.0
    )


def test_explain_conv_sums_to_the_activation(star_trace) -> None:
    rng = np.random.default_rng(7)
    for layer in CONV_LAYERS:
        out = star_trace.activations[layer]
        for _ in range(40):
            c, y, x = (int(rng.integers(0, n)) for n in out.shape)
            exp = star_trace.explain_conv(layer, c, y, x)
            source = star_trace.activations[exp.input_layer]
            assert len(exp.terms) == source.shape[0]
            for term in exp.terms:
                np.testing.assert_array_equal(
                    term.window, source[term.channel, y : y + 3, x : x + 3]
                )
                np.testing.assert_array_equal(
                    term.kernel, star_trace.weights[layer][c, term.channel]
                )
                np.testing.assert_allclose(term.products, term.window * term.kernel, rtol=1e-6)
                assert term.sum == pytest.approx(float(term.products.sum()))
            assert exp.bias == pytest.approx(float(star_trace.biases[layer][c]))
            assert exp.total == pytest.approx(float(out[c, y, x]), abs=1e-5)


def test_explain_conv_rejects_bad_requests(star_trace) -> None:
    with pytest.raises(ValueError, match="not a convolution layer"):
        star_trace.explain_conv("relu_1_1", 0, 0, 0)
    with pytest.raises(IndexError):
        star_trace.explain_conv("conv_1_1", 0, 62, 0)


def test_images_are_resized_short_side_then_centre_cropped(default_model) -> None:
    wide = Image.new("RGB", (256, 128), (255, 0, 0))
    wide.paste((0, 0, 255), (0, 0, 64, 128))  # a blue band on the left quarter
    result = cnn_model.trace(default_model, wide)
    assert result.image.shape == (64, 64, 3)
    # 256x128 -> 128x64, the crop keeps x in [32, 96): no blue survives.
    assert result.image[..., 2].max() < 40
    grey = Image.new("L", (64, 64), 128)
    assert cnn_model.trace(default_model, grey).image[0, 0].tolist() == [128, 128, 128]
    transparent = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    assert cnn_model.trace(default_model, transparent).image[0, 0].tolist() == [255, 255, 255]


def test_training_is_deterministic() -> None:
    x, y = synthetic.generate(120, "train", seed=3, workers=1)
    hx, hy = synthetic.generate(40, "heldout", seed=3, workers=1)
    config = train.TrainConfig(seed=5, epochs=1, batch_size=20)
    first = train.train(x, y, hx, hy, 10, config)
    second = train.train(x, y, hx, hy, 10, config)
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key
    other = train.train(x, y, hx, hy, 10, train.TrainConfig(seed=6, epochs=1, batch_size=20))
    assert not torch.equal(other.model.conv_1_1.weight, first.model.conv_1_1.weight)


def test_generator_is_deterministic_and_splits_differ() -> None:
    a, la = synthetic.generate(30, "train", seed=0, workers=1)
    b, lb = synthetic.generate(30, "train", seed=0, workers=1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert sorted(set(la.tolist())) == list(range(10))
    held, _ = synthetic.generate(30, "heldout", seed=0, workers=1)
    assert not any(np.array_equal(a[i], held[i]) for i in range(30))


def test_shipped_card_describes_the_shipped_weights() -> None:
    location = store.shipped_default()
    card = json.loads(location.card.read_text())
    digest = hashlib.sha256(location.weights.read_bytes()).hexdigest()
    assert card["sha256"] == digest
    assert card["classes"] == list(synthetic.CLASSES)
    assert card["data"]["generator"] == synthetic.GENERATOR_VERSION
    assert card["command"].startswith("cnnlesson model train")
    assert isinstance(card["seed"], int)
    assert location.weights.stat().st_size < 300_000


@pytest.mark.parametrize("seed_offset", [0, 1000])
def test_shipped_accuracy_holds_on_freshly_generated_heldout_images(
    default_model, seed_offset
) -> None:
    card = default_model.card
    seed = card["data"]["seed"] + seed_offset
    images, labels = synthetic.generate(card["heldout_count"], "heldout", seed=seed)
    accuracy = train.accuracy(default_model, train.to_tensor(images), torch.from_numpy(labels))
    assert accuracy >= 0.90
    if seed_offset == 0:  # the very split the card reports on
        assert accuracy == pytest.approx(card["accuracy"], abs=1e-3)


def test_load_model_by_name_and_path(default_model) -> None:
    by_path = cnn_model.load_model(store.shipped_default().weights)
    assert by_path.classes == default_model.classes
    for key, value in default_model.state_dict().items():
        assert torch.equal(value, by_path.state_dict()[key])
    with pytest.raises(cnn_model.ModelError, match="known models: default"):
        cnn_model.load_model("no-such-model")


def test_sample_images_are_classified_correctly(default_model) -> None:
    folder = ROOT / "lessons" / "images"
    for path in sorted(folder.glob("*.png")):
        result = cnn_model.trace(default_model, path)
        assert result.predicted_class == path.stem.rsplit("_", 1)[0], path.name


def test_channel_contributions_sum_with_the_bias_to_the_activation(
    default_model, star_trace
) -> None:
    import torch.nn.functional as F

    for layer in CONV_LAYERS:
        module = getattr(default_model, layer)
        source = torch.from_numpy(star_trace.activations[cnn_model.tinyvgg.PREVIOUS[layer]])[None]
        for neuron in (0, 9):
            maps = star_trace.channel_contributions(layer, neuron)
            weight = module.weight.detach()[neuron : neuron + 1]  # (1, C, 3, 3)
            channels = source.shape[1]
            # Grouped convolution: channel c with its own kernel, no bias.
            expected = F.conv2d(source, weight.reshape(channels, 1, 3, 3), groups=channels)[0]
            np.testing.assert_allclose(maps, expected.numpy(), atol=1e-5)
            total = maps.sum(axis=0) + float(module.bias[neuron].detach())
            np.testing.assert_allclose(total, star_trace.activations[layer][neuron], atol=1e-5)


def test_explain_dense_and_softmax_terms_equal_torch(default_model, star_trace) -> None:
    import torch.nn.functional as F

    ref = reference_layers(default_model, star_trace.image)
    weight = default_model.output.weight.detach().numpy()
    for cls in range(10):
        dense = star_trace.explain_dense(cls)
        np.testing.assert_allclose(
            dense.products, weight[cls].astype(np.float64) * ref["flatten"], rtol=1e-6, atol=1e-9
        )
        assert dense.total == pytest.approx(float(ref["output"][cls]), abs=1e-5)
        assert dense.sum_of(range(1690)) + dense.bias == pytest.approx(dense.total)
    terms = star_trace.softmax_terms()
    logits = torch.from_numpy(ref["output"]).double()
    np.testing.assert_allclose(terms.exps / terms.total, F.softmax(logits, 0).numpy(), atol=1e-6)
    assert terms.shift == 0.0
    assert terms.probability_sum_of(range(10)) == pytest.approx(1.0, abs=1e-6)
    huge = dataclasses.replace(star_trace, logits=star_trace.logits + 1000.0)
    shifted = huge.softmax_terms()
    assert shifted.shift == pytest.approx(float(huge.logits.max()))
    assert np.isfinite(shifted.exps).all()
    np.testing.assert_allclose(shifted.exps / shifted.total, terms.exps / terms.total, atol=1e-6)
    tiny = dataclasses.replace(star_trace, logits=star_trace.logits - 1000.0)
    lifted = tiny.softmax_terms()
    assert lifted.total > 0 and lifted.shift == pytest.approx(float(tiny.logits.max()))
    np.testing.assert_allclose(lifted.exps / lifted.total, terms.exps / terms.total, atol=1e-6)


def test_flatten_sources_are_where_torch_reads_each_entry(star_trace) -> None:
    pool = torch.from_numpy(star_trace.activations["max_pool_2"])
    channels, height, width = pool.shape
    orders = {
        "chw": pool.reshape(-1),  # PyTorch's flatten
        "hwc": pool.permute(1, 2, 0).reshape(-1),  # Keras' flatten of a channels-last map
    }
    for order, flat in orders.items():
        trace = dataclasses.replace(star_trace, flatten_order=order)
        sources = trace.flatten_sources()
        assert sources.shape == (channels * height * width, 3), order
        # Every cell once, and each entry equal to torch's entry at that index.
        assert len({tuple(s) for s in sources.tolist()}) == len(sources), order
        c, y, x = sources.T
        np.testing.assert_array_equal(pool.numpy()[c, y, x], flat.numpy(), err_msg=order)
    # Index 11 is channel 1 of position (0, 1) in channels-last order: not chw's cell.
    hwc = dataclasses.replace(star_trace, flatten_order="hwc").flatten_sources()
    assert hwc[11].tolist() == [1, 0, 1]
    assert star_trace.flatten_sources()[11].tolist() == [0, 0, 11]


def test_logit_terms_equal_torch_dense_layer(default_model, star_trace) -> None:
    import torch.nn.functional as F

    flat = torch.from_numpy(reference_layers(default_model, star_trace.image)["flatten"])
    weight = default_model.output.weight.detach()
    bias = default_model.output.bias.detach()
    logits = F.linear(flat[None], weight, bias)[0]
    for cls, shown in ((3, [5, 0, 1689]), (0, []), (9, list(range(8)))):
        products = weight[cls].double() * flat.double()
        terms = star_trace.logit_terms(cls, shown)
        assert terms.class_index == cls and terms.shown == shown
        np.testing.assert_allclose(terms.products, products[shown].numpy(), rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(terms.weights, weight[cls, shown].numpy())
        np.testing.assert_allclose(terms.inputs, flat[shown].numpy(), atol=1e-6)
        assert terms.shown_sum == pytest.approx(float(products[shown].sum()), abs=1e-6)
        rest = [i for i in range(1690) if i not in shown]
        assert terms.others == len(rest)
        assert terms.others_sum == pytest.approx(float(products[rest].sum()), abs=1e-5)
        assert terms.bias == pytest.approx(float(bias[cls]))
        assert terms.logit == pytest.approx(float(logits[cls]), abs=1e-5)
        total = terms.shown_sum + terms.others_sum + terms.bias
        assert total == pytest.approx(float(logits[cls]), abs=1e-4)
    with pytest.raises(IndexError):
        star_trace.logit_terms(0, [1690])
    with pytest.raises(IndexError):
        star_trace.logit_terms(0, [4, 4])


def test_shares_of_classes_equal_torch(default_model, star_trace) -> None:
    logits = torch.from_numpy(reference_layers(default_model, star_trace.image)["output"])
    softmax = torch.softmax(logits.double(), dim=0)
    shifted = logits.double() - logits.double().min()
    linear = shifted / shifted.sum()
    predicted = int(torch.argmax(logits))
    for classes in ([3], [0, 1, 2], [9, 4], list(range(10)), []):
        assert star_trace.probability_of(classes) == pytest.approx(
            float(softmax[classes].sum()), abs=1e-6
        )
        assert star_trace.linear_share_of(classes) == pytest.approx(
            float(linear[classes].sum()), abs=1e-6
        )
        assert star_trace.argmax_share_of(classes) == (1.0 if predicted in classes else 0.0)
    assert star_trace.probability_of(range(10)) == pytest.approx(1.0, abs=1e-6)
    # Softmax is not a linear rescale: the two give the prediction different shares.
    assert star_trace.probability_of([predicted]) > star_trace.linear_share_of([predicted])


def test_top_classes_equal_torch_topk(default_model, star_trace) -> None:
    logits = torch.from_numpy(reference_layers(default_model, star_trace.image)["output"])
    values, indices = torch.topk(torch.softmax(logits.double(), dim=0), 10)
    assert len(set(values.tolist())) == 10  # no ties, so the order is torch's alone
    for k in (1, 3, 10, 20):
        assert star_trace.top_classes(k) == indices[:k].tolist()
    assert star_trace.top(3) == [
        (star_trace.classes[i], pytest.approx(float(v), abs=1e-6))
        for v, i in zip(values[:3].tolist(), indices[:3].tolist(), strict=True)
    ]


def test_a_trace_does_not_depend_on_the_number_of_threads() -> None:
    """The numbers on screen are the same on a machine of any core count."""
    script = (
        "import hashlib, cnn_model\n"
        "t = cnn_model.trace(cnn_model.load_model('default'), 'lessons/images/star_1.png')\n"
        "data = b''.join(t.activations[k].tobytes() for k in sorted(t.activations))\n"
        "print(hashlib.sha256(data + t.logits.tobytes()).hexdigest())\n"
    )
    digests = set()
    for threads in ("1", "2", "4"):
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "OMP_NUM_THREADS": threads},
        )
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.strip())
    assert len(digests) == 1
