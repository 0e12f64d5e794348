"""The digit-pair variants and their training, checked over the whole registry.

Every registered digits variant must give the documented output shapes, stay
finite, and give each of its parameters a gradient; training must standardize
with training statistics only, keep the test pairs out of every choice, and
give the same numbers for the same seed.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from models.digits_nets import MaxPool2x2, PairOutput
from models.digits_train import Split, load_splits, pair_loss, train_digits
from models.registry import create_model, get_variant, list_models

DIGITS = list_models(task="digits")
QUICK = {"epochs": 1}


def _batch(num_pairs: int = 8, seed: int = 0) -> Split:
    generator = torch.Generator().manual_seed(seed)
    return Split(
        torch.randn(num_pairs, 2, 14, 14, generator=generator),
        torch.randint(0, 2, (num_pairs,), generator=generator),
        torch.randint(0, 10, (num_pairs, 2), generator=generator),
    )


@pytest.mark.parametrize("name", DIGITS)
def test_every_digits_variant_has_the_documented_outputs(name):
    torch.manual_seed(0)
    factors, model, batch = get_variant(name).factors, create_model(name), _batch()

    output = model(batch.input)
    assert isinstance(output, PairOutput)
    assert output.comparison.shape == (8, 2), f"{name}: comparison logits (N, 2)"
    assert torch.isfinite(output.comparison).all(), f"{name}: non-finite output"
    if factors["architecture"] in ("mlp", "cnn"):
        assert output.digits is None, f"{name} sees the pair as one input"
    else:
        assert output.digits.shape == (8, 2, 10), f"{name}: digit logits (N, 2, 10)"
        assert torch.isfinite(output.digits).all()


@pytest.mark.parametrize("name", DIGITS)
def test_every_parameter_of_every_digits_variant_gets_a_gradient(name):
    torch.manual_seed(0)
    factors, model, batch = get_variant(name).factors, create_model(name), _batch()

    # The comparison and digit losses mixed half and half reach every
    # parameter that a variant trains end to end; two_stage trains its head on
    # its own, which the same loss also reaches.
    aux_coef = 1.0 if factors["architecture"] == "argmax" else 0.5
    pair_loss(model(batch.input), batch, aux_coef).backward()
    for parameter_name, parameter in model.named_parameters():
        assert parameter.grad is not None, f"{name}.{parameter_name} has no gradient"
        assert torch.isfinite(parameter.grad).all()
        assert parameter.grad.abs().sum() > 0, f"{name}.{parameter_name}: zero grad"


def test_shared_variants_have_fewer_parameters_than_their_unshared_twins():
    shared = [n for n in DIGITS if get_variant(n).factors.get("weight_sharing")]
    pairs = 0
    for name in shared:
        factors = get_variant(name).factors
        for other in DIGITS:
            twin = get_variant(other).factors
            differs = {k for k in factors if twin.get(k) != factors[k]}
            if differs == {"weight_sharing"}:
                count = lambda n: sum(  # noqa: E731
                    p.numel() for p in get_variant(n).build().parameters()
                )
                assert count(name) < count(other), f"{name} vs {other}"
                pairs += 1
    assert pairs >= 1, "siamese and twin differ in weight sharing only"


def test_pair_loss_weights_comparison_and_digits():
    torch.manual_seed(0)
    batch = _batch()
    output = PairOutput(torch.randn(8, 2), torch.randn(8, 2, 10))
    comparison = torch.nn.functional.cross_entropy(output.comparison, batch.target)
    digit1 = torch.nn.functional.cross_entropy(output.digits[:, 0], batch.classes[:, 0])
    digit2 = torch.nn.functional.cross_entropy(output.digits[:, 1], batch.classes[:, 1])

    for aux_coef in (0.0, 0.25, 0.5, 1.0):
        expected = (1 - aux_coef) * comparison + aux_coef / 2 * (digit1 + digit2)
        assert torch.allclose(pair_loss(output, batch, aux_coef), expected), aux_coef
    no_digits = PairOutput(output.comparison, None)
    assert torch.allclose(pair_loss(no_digits, batch, 0.5), comparison)


def test_inputs_are_standardized_with_training_statistics_only(mnist_dir):
    train, val, test = load_splits(3, 0.2, mnist_dir)
    assert (len(train), len(val), len(test)) == (800, 200, 1000)
    assert abs(train.input.mean().item()) < 1e-4, "train mean is 0"
    assert abs(train.input.std().item() - 1) < 1e-4, "train std is 1"
    assert abs(test.input.mean().item()) > 1e-4, "test keeps its own offset"

    # Changing the test pairs cannot change the training inputs.
    full_train, _, _ = load_splits(3, 0.0, mnist_dir)
    assert len(full_train) == 1000
    assert not torch.equal(load_splits(4, 0.0, mnist_dir)[0].input, full_train.input)


def _numbers(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "train_seconds"}


def _same(a, b) -> bool:
    """Equal, counting NaN equal to NaN (networks without digit outputs)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.parametrize("name", ["cnn", "report2020_two_stage", "digit_argmax"])
def test_the_same_seed_gives_the_same_numbers(name, mnist_dir):
    factors = get_variant(name).resolve(QUICK)
    first = train_digits(name, factors, 7, mnist_dir)
    again = train_digits(name, factors, 7, mnist_dir)
    other = train_digits(name, factors, 8, mnist_dir)
    assert _same(_numbers(first), _numbers(again)), "same seed, same numbers"
    assert first["test_accuracy"] != other["test_accuracy"] or (
        first["train_loss"] != other["train_loss"]
    ), "a different seed draws different pairs and weights"


def test_training_reports_every_metric_and_curve(mnist_dir):
    factors = get_variant("siamese").resolve({"epochs": 2, "val_fraction": 0.1})
    result = train_digits("siamese", factors, 0, mnist_dir)

    assert result["status"] == "ok"
    for key in ("train_accuracy", "test_accuracy", "val_accuracy"):
        assert 0 <= result[key] <= 1, f"{key} is a fraction"
    # Two epochs teach the digits well before the comparison.
    assert 0.5 < result["test_digit_accuracy"] <= 1, "digits far above chance"
    assert result["num_params"] == sum(
        p.numel() for p in get_variant("siamese").build().parameters()
    )
    assert result["train_seconds"] > 0
    assert {len(curve) for curve in result["curves"].values()} == {2}
    assert set(result["curves"]) >= {"train_loss", "test_accuracy", "val_accuracy"}
    assert result["curves"]["train_loss"][1] < result["curves"]["train_loss"][0]


def test_the_global_random_state_is_left_alone(mnist_dir):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_digits("mlp", get_variant("mlp").resolve(QUICK), 0, mnist_dir)
    assert torch.equal(torch.rand(3), expected), "training forks the global RNG"


@pytest.mark.parametrize("size", [12, 7, 4, 3, 2])
def test_max_pool_equals_torch_with_ties_and_nan(size):
    generator = torch.Generator().manual_seed(size)
    x = torch.randn(5, 6, size, size, generator=generator)
    x[0] = 0.25  # every window a tie
    x[1, :, :2, :2] = -1.0
    x[2, 3, 0, 0] = math.nan
    x = x.to(memory_format=torch.channels_last)
    expected = F.max_pool2d(x, 2)
    with torch.no_grad():
        pooled = MaxPool2x2()(x)
    assert pooled.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(pooled, expected, rtol=0, atol=0, equal_nan=True)

    # With a gradient to compute, torch's kernel (and its tie-breaking) is used.
    x.requires_grad_()
    weights = torch.randn(expected.shape, generator=generator)
    (MaxPool2x2()(x).nan_to_num() * weights).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    (F.max_pool2d(x, 2).nan_to_num() * weights).sum().backward()
    assert torch.equal(ours, x.grad)
