"""The factors each task's variants are made of, with their types and ranges.

A factor is anything that changes a trial's result: the architecture, the
ablation knobs (``weight_sharing``, ``aux_coef``...) and the training
hyperparameters (``lr``, ``epochs``...). Variants carry their factor values as
data, so grids can sweep them and tables can group by them without parsing
variant names. *Locked* factors are a variant's identity (a ``siamese`` net
shares its weights by definition) and cannot be overridden: pick the variant
that has the value you want instead. *Common* factors belong to every variant
of a task; the others only to the variants that declare them.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Factor:
    """One factor: its type, which values it accepts, and what it means."""

    name: str
    kind: type  # bool, int, float or str
    default: Any
    expects: str  # a valid value in words, for error messages
    help: str
    valid: Callable[[Any], bool]
    locked: bool = False
    common: bool = False

    def check(self, value: Any) -> Any:
        """The value coerced to ``kind``; ValueError saying what is expected."""
        if self.kind is float and type(value) is int:
            value = float(value)
        if type(value) is not self.kind or not self.valid(value):
            raise ValueError(f"{self.name} must be {self.expects}, got {value!r}")
        return value


def choice(name: str, default: str | int, options: tuple, help: str, **kw) -> Factor:
    kind = type(default)
    expects = "one of " + ", ".join(str(option) for option in options)
    return Factor(name, kind, default, expects, help, options.__contains__, **kw)


def flag(name: str, default: bool, help: str, **kw) -> Factor:
    return Factor(name, bool, default, "true or false", help, lambda v: True, **kw)


def number(
    name: str,
    default: int | float,
    low: float,
    high: float,
    help: str,
    open_low: bool = False,
    open_high: bool = False,
    **kw,
) -> Factor:
    """An int or float factor in the interval from ``low`` to ``high``."""
    kind = type(default)
    kind_name = "an integer" if kind is int else "a float"
    interval = f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"

    def valid(value: float) -> bool:
        above = value > low if open_low else value >= low
        below = value < high if open_high else value <= high
        return above and below

    return Factor(name, kind, default, f"{kind_name} in {interval}", help, valid, **kw)


def _by_name(*factors: Factor) -> dict[str, Factor]:
    return {factor.name: factor for factor in factors}


def _training(optimizer: str, lr: float, batch_size: int, epochs: int) -> tuple:
    """The training factors both tasks share, with each task's defaults."""
    return (
        choice("optimizer", optimizer, ("sgd", "adam"), "optimizer", common=True),
        number("lr", lr, 0, 10, "learning rate", open_low=True, common=True),
        number("momentum", 0.0, 0, 1, "SGD momentum", open_high=True, common=True),
        number("weight_decay", 0.0, 0, 1, "L2 penalty coefficient", common=True),
        number("batch_size", batch_size, 1, 100_000, "examples per step", common=True),
        number("epochs", epochs, 1, 100_000, "passes over the data", common=True),
        number(
            "val_fraction", 0.0, 0, 0.5,
            "share of the training set held out for validation", common=True,
        ),
    )  # fmt: skip


DIGITS_FACTORS = _by_name(
    choice(
        "architecture", "branch", ("mlp", "cnn", "branch", "two_stage", "argmax"),
        "network family", locked=True,
    ),
    flag(
        "weight_sharing", True,
        "one digit branch for both images (siamese) or one per image (twin)",
        locked=True,
    ),
    number(
        "aux_coef", 0.5, 0, 1,
        "weight of the digit losses: (1-a) comparison + a/2 (digit1 + digit2)",
    ),
    choice(
        "comparator", "mlp", ("mlp", "linear"),
        "head that turns the two digit outputs into the comparison",
    ),
    choice(
        "comparator_input", "logits", ("logits", "softmax"),
        "what the comparator sees of each digit",
    ),
    choice("branch", "small", ("small", "large"), "digit CNN in each branch"),
    number("hidden", 128, 1, 4096, "width of the hidden layers"),
    number("dropout", 0.0, 0, 1, "dropout before the last layers", open_high=True),
    number("augment", 0, 0, 3, "random shift of training images, in pixels"),
    flag("swap_pairs", False, "also train on each pair with its images swapped"),
    choice(
        "schedule", "constant", ("constant", "cosine", "onecycle"),
        "learning-rate schedule over the run", common=True,
    ),
    *_training(optimizer="adam", lr=1e-3, batch_size=100, epochs=25),
)  # fmt: skip

CIRCLE_FACTORS = _by_name(
    choice("activation", "relu", ("relu", "tanh"), "hidden activation", common=True),
    choice(
        "init", "default", ("default", "xavier_uniform", "xavier_normal", "he"),
        "weight initialisation", common=True,
    ),
    number(
        "dropout", 0.0, 0, 1, "dropout after each hidden layer", open_high=True,
        common=True,
    ),
    choice("loss", "mse", ("mse", "bce", "ce"), "training loss", common=True),
    choice("outputs", 2, (1, 2), "output units", common=True),
    choice(
        "output_activation", "none", ("none", "sigmoid", "tanh"),
        "activation of the output layer", common=True,
    ),
    flag("standardize", True, "standardize inputs with training statistics",
         common=True),
    number("hidden", 25, 1, 4096, "units per hidden layer", common=True),
    number("num_hidden_layers", 3, 1, 16, "hidden layers", common=True),
    *_training(optimizer="sgd", lr=1e-2, batch_size=100, epochs=100),
)  # fmt: skip

TASK_FACTORS: dict[str, dict[str, Factor]] = {
    "digits": DIGITS_FACTORS,
    "circle": CIRCLE_FACTORS,
}

CIRCLE_PER_MODEL_FACTORS = ("lr", "momentum", "weight_decay", "dropout", "init")
"""Circle factors that may differ between the trials of one stacked run."""


def circle_stack_key(factors: Mapping[str, Any]) -> tuple:
    """The circle factors that fix the network's shape and the training loop.

    Trials with equal keys can train in one stack; they may differ in
    ``CIRCLE_PER_MODEL_FACTORS`` and in their seeds. Planning a grid needs
    only this, so it lives here, away from torch.
    """
    return tuple(
        sorted((k, v) for k, v in factors.items() if k not in CIRCLE_PER_MODEL_FACTORS)
    )
