"""The variant registry: names, patterns, factors and the errors users meet."""

import pytest

from models import registry
from models.factors import TASK_FACTORS
from models.registry import create_model, get_variant, list_models, register_model


def test_list_models_matches_wildcards_and_sorts():
    everything = list_models()
    assert everything == sorted(everything), "names come back sorted"
    assert {"mlp", "cnn", "siamese", "twin", "report2020", "circle_mlp"} <= set(
        everything
    )
    assert list_models("report2020*") == ["report2020", "report2020_two_stage"]
    assert list_models("circle_*") == list_models(task="circle")
    assert set(list_models(task="digits")) | set(list_models(task="circle")) == set(
        everything
    )
    assert list_models("no_such_*") == []


def test_every_variant_has_its_tasks_factors_with_valid_values():
    for name in list_models():
        variant = get_variant(name)
        schema = TASK_FACTORS[variant.task]
        common = {key for key, factor in schema.items() if factor.common}
        assert common <= set(variant.factors), f"{name} lacks common factors"
        for key, value in variant.factors.items():
            assert schema[key].check(value) == value, f"{name}.{key}={value!r}"
        assert variant.description, f"{name} has no docstring to describe it"


def test_a_duplicate_name_is_an_error():
    with pytest.raises(ValueError, match="'siamese' is registered twice"):

        @register_model("digits", architecture="branch")
        def siamese(**factors):
            return None


def test_an_unknown_task_or_factor_is_an_error():
    with pytest.raises(ValueError, match="unknown task 'vision'"):
        register_model("vision")
    with pytest.raises(ValueError, match="digits has no factor 'activation'"):

        @register_model("digits", activation="relu")
        def not_registered(**factors):
            return None

    assert "not_registered" not in list_models()


def test_an_unknown_name_lists_close_matches():
    with pytest.raises(KeyError, match=r"'siames'.*did you mean siamese"):
        get_variant("siames")
    with pytest.raises(KeyError, match="unknown variant 'zzz'") as caught:
        create_model("zzz")
    assert "did you mean" not in str(caught.value), "no match, no suggestion"


def test_create_model_applies_checked_overrides():
    wide = create_model("siamese", hidden=256)
    narrow = create_model("siamese", hidden=32)
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    assert count(wide) > count(narrow)

    with pytest.raises(ValueError, match="aux_coef must be a float in"):
        create_model("siamese", aux_coef=1.5)
    with pytest.raises(ValueError, match="has no factor 'activaton'"):
        create_model("circle_mlp", activaton="tanh")
    with pytest.raises(ValueError, match="weight_sharing is fixed to True"):
        create_model("siamese", weight_sharing=False)


def test_resolve_leaves_the_registered_factors_alone():
    variant = get_variant("twin")
    before = dict(variant.factors)
    resolved = variant.resolve({"aux_coef": 0.25, "epochs": 3})
    assert resolved["aux_coef"] == 0.25 and resolved["epochs"] == 3
    assert variant.factors == before
    assert registry._variants["twin"].factors["aux_coef"] == 0.5
