"""Grid files: parsing, crossing, and every kind of bad input refused early."""

import pytest

from benchmarks.errors import AblateError
from benchmarks.grids import Trial, grid_names, load_grid
from models.registry import get_variant


def _grid(tmp_path, text: str):
    path = tmp_path / "grid.toml"
    path.write_text(text)
    return load_grid(str(path))


def test_every_shipped_grid_loads_and_has_trials():
    assert {"smoke", "digits", "circle", "report2020", "paper"} <= set(grid_names())
    for name in grid_names():
        grid = load_grid(name)
        assert grid.trials, f"grid {name} has no trials"
        assert len({t.key for t in grid.trials}) == len(grid.trials)


def test_axes_are_crossed_with_variants_and_seeds(tmp_path):
    grid = _grid(
        tmp_path,
        """
        seeds = 3
        [settings]
        epochs = 2
        [[sweep]]
        variants = ["siamese", "twin"]
        factors = { aux_coef = [0.0, 0.5], lr = [1e-3, 1e-2] }
        """,
    )
    assert len(grid.trials) == 2 * 2 * 2 * 3
    assert {t.factors["epochs"] for t in grid.trials} == {2}
    assert {t.seed for t in grid.trials} == {0, 1, 2}
    trial = grid.trials[0]
    assert trial.factors == get_variant(trial.variant).resolve(
        {"epochs": 2, "aux_coef": trial.factors["aux_coef"], "lr": trial.factors["lr"]}
    )


def test_key_is_canonical_and_depends_on_every_factor():
    factors = get_variant("siamese").resolve()
    a = Trial("digits", "siamese", dict(factors), 0)
    b = Trial("digits", "siamese", dict(reversed(list(factors.items()))), 0)
    assert a.key == b.key
    assert a.key != Trial("digits", "siamese", dict(factors), 1).key
    assert a.key != Trial("digits", "siamese", {**factors, "lr": 2e-3}, 0).key


def test_select_reseeds_and_filters():
    grid = load_grid("digits").select(variants="siamese", seeds=2)
    assert {t.variant for t in grid.trials} == {"siamese"}
    assert {t.seed for t in grid.trials} == {0, 1}
    assert len(grid.trials) == 5 * 2 * 2  # aux_coef x comparator_input x seeds


def test_include_composes_grids(tmp_path):
    grid = _grid(tmp_path, 'include = ["digits"]')
    assert {t.key for t in grid.trials} == {t.key for t in load_grid("digits").trials}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seeds = 2\n[[sweep]]\nvariants = [", "invalid TOML"),
        (
            "seeds = 2\ncolour = 1\n[[sweep]]\nvariants = ['cnn']",
            "unknown key 'colour'",
        ),
        ("seeds = 2\n[[sweep]]\nvariants = ['siamse']", "did you mean siamese"),
        ("seeds = 2\n[[sweep]]\nvariants = []", "non-empty list"),
        ("seeds = 2\n[[sweep]]\nvariants = ['cnn', 'cnn']", "listed twice"),
        ("[[sweep]]\nvariants = ['cnn']", "no seeds"),
        ("seeds = 0\n[[sweep]]\nvariants = ['cnn']", "at least 1"),
        ("seeds = []\n[[sweep]]\nvariants = ['cnn']", "count or a non-empty list"),
        ("seeds = [1, 1]\n[[sweep]]\nvariants = ['cnn']", "distinct seeds"),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['cnn']\nfactors = { aux_coef = [0.5] }",
            "has no factor 'aux_coef'",
        ),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['siamese']\nfactors = { aux_coef = [] }",
            "non-empty list",
        ),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['siamese']\n"
            "factors = { aux_coef = [0.5, 0.5] }",
            "repeats a value",
        ),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['siamese']\nfactors = { lr = [-1.0] }",
            r"lr must be a float in \(0, 10\], got -1.0",
        ),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['siamese']\nfactors = { epochs = [0] }",
            "epochs must be an integer",
        ),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['siamese']\n"
            "settings = { dropout = 1.0 }",
            r"dropout must be a float in \[0, 1\)",
        ),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['siamese']\n"
            "settings = { epochs = 'ten' }",
            "epochs must be an integer",
        ),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['siamese']\n"
            "settings = { weight_sharing = false }",
            "fixed to True in variant siamese",
        ),
        ("seeds = 2\n[settings]\nspeed = 3\n[[sweep]]\nvariants = ['cnn']", "speed"),
        ("seeds = 2", "the grid is empty"),
        ('include = ["nothing_like_this"]', "no grid named 'nothing_like_this'"),
    ],
)
def test_bad_grids_are_refused_with_file_and_key(tmp_path, text, message):
    with pytest.raises(AblateError, match=message) as error:
        _grid(tmp_path, text)
    assert "grid.toml" in str(error.value) or "no grid named" in str(error.value)


def test_unknown_grid_name_lists_the_shipped_ones():
    with pytest.raises(AblateError, match="shipped grids are.*smoke"):
        load_grid("smokey")
