"""The variant registry: every model of both tasks, by name, with its factors.

A variant is a registered builder plus the factor values that define it::

    @register_model("digits", architecture="branch", weight_sharing=True)
    def siamese(**factors):
        return PairNet(**factors)

``list_models("siamese*")`` finds variants, ``get_variant(name)`` returns the
record (task, factors, description) and ``create_model(name, **overrides)``
builds the network with some factors changed. Factors are checked against the
task's schema in ``models.factors``.
"""

import difflib
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from models.factors import TASK_FACTORS


@dataclass(frozen=True)
class Variant:
    """A registered variant: its name, task, factor values and builder."""

    name: str
    task: str
    factors: dict[str, Any]  # every factor the variant has, with its value
    builder: Callable[..., Any] = field(repr=False)
    description: str = ""

    def resolve(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The variant's factors with ``overrides`` applied and checked.

        Raises ValueError naming the factor and what it expects.
        """
        schema = TASK_FACTORS[self.task]
        resolved = dict(self.factors)
        for key, value in (overrides or {}).items():
            if key not in self.factors:
                raise ValueError(
                    f"variant {self.name} has no factor {key!r}"
                    f"{_did_you_mean(key, self.factors)}; its factors are "
                    + ", ".join(sorted(self.factors))
                )
            if schema[key].locked and value != self.factors[key]:
                raise ValueError(
                    f"{key} is fixed to {self.factors[key]!r} in variant "
                    f"{self.name}; choose a variant with {key}={value!r} instead"
                )
            resolved[key] = schema[key].check(value)
        return resolved

    def build(self, overrides: dict[str, Any] | None = None) -> Any:
        return self.builder(**self.resolve(overrides))


_variants: dict[str, Variant] = {}


def register_model(task: str, **factors: Any) -> Callable:
    """Register the decorated builder as a variant of ``task``.

    The variant is named after the function. It has the task's common factors
    with their defaults, plus the keyword arguments given here (which may also
    change a common factor's default). The builder is called with every factor.
    """
    if task not in TASK_FACTORS:
        raise ValueError(f"unknown task {task!r}; tasks are {sorted(TASK_FACTORS)}")
    schema = TASK_FACTORS[task]

    def decorate(builder: Callable[..., Any]) -> Callable[..., Any]:
        name = builder.__name__
        if name in _variants:
            raise ValueError(f"variant {name!r} is registered twice")
        values = {key: f.default for key, f in schema.items() if f.common}
        for key, value in factors.items():
            if key not in schema:
                raise ValueError(f"variant {name}: {task} has no factor {key!r}")
            values[key] = schema[key].check(value)
        doc = (builder.__doc__ or "").strip().split("\n\n")[0]
        _variants[name] = Variant(name, task, values, builder, " ".join(doc.split()))
        return builder

    return decorate


def list_models(pattern: str = "*", task: str | None = None) -> list[str]:
    """Sorted names of the variants matching a wildcard pattern (and task)."""
    _load_variants()
    return sorted(
        name
        for name, variant in _variants.items()
        if fnmatch.fnmatchcase(name, pattern) and task in (None, variant.task)
    )


def get_variant(name: str) -> Variant:
    """The registered variant ``name``; KeyError listing close matches."""
    _load_variants()
    if name not in _variants:
        raise KeyError(f"unknown variant {name!r}{_did_you_mean(name, _variants)}")
    return _variants[name]


def create_model(name: str, **overrides: Any) -> Any:
    """Build variant ``name`` with some of its factors overridden."""
    return get_variant(name).build(overrides)


def _did_you_mean(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _load_variants() -> None:
    # The variant modules register themselves on import.
    import models.circle_variants  # noqa: F401
    import models.digits_variants  # noqa: F401
