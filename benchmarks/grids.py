"""Grid files: which (variant, factor values, seed) trials an ablation runs.

A grid is a TOML file, under ``benchmarks/grids/`` (named without its
extension) or at any path::

    description = "weight sharing x auxiliary loss"
    seeds = 20                      # a count (seeds 0..19) or a list
    include = ["other_grid"]        # optional: every trial of other grids

    [settings]                      # fixed factor values, for every sweep
    epochs = 25

    [[sweep]]                       # one block of variants x factor axes
    variants = ["siamese", "twin"]  # names or wildcard patterns
    task = "digits"                 # optional: restricts wildcard patterns
    seeds = [0, 1, 2]               # optional: overrides the grid's seeds
    settings = { lr = 1e-3 }        # optional: fixed values for this sweep
    factors = { aux_coef = [0.0, 0.5, 1.0] }   # axes, crossed together

Top-level settings apply to every variant that has the factor; a sweep's own
settings and axes must be factors of each of its variants. The whole file is
checked before anything trains, and every problem is reported as one
``AblateError`` naming the file, the key and what was expected.
"""

import fnmatch
import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from benchmarks.errors import AblateError
from models.registry import get_variant, list_models

GRID_DIR = Path(__file__).parent / "grids"
# Bump when a change to training alters results, so old rows are not reused.
RESULTS_VERSION = 1

_GRID_KEYS = {"description", "seeds", "include", "settings", "sweep"}
_SWEEP_KEYS = {"variants", "task", "seeds", "settings", "factors"}


@dataclass(frozen=True)
class Trial:
    """One training run: a variant with all its factor values, and a seed."""

    task: str
    variant: str
    factors: dict[str, Any] = field(hash=False)
    seed: int = 0

    @cached_property
    def key(self) -> str:
        """A canonical hash of everything that determines the trial's result."""
        payload = {
            "version": RESULTS_VERSION,
            "task": self.task,
            "variant": self.variant,
            "factors": self.factors,
            "seed": self.seed,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class Grid:
    """A parsed, validated grid: its name, source file and trials."""

    name: str
    path: Path
    description: str
    trials: list[Trial]

    def select(self, variants: str | None = None, seeds: int | None = None) -> "Grid":
        """The grid restricted to variants matching a pattern, or re-seeded.

        ``seeds`` replaces every sweep's seeds with 0..seeds-1.
        """
        trials = self.trials
        if variants is not None:
            trials = [t for t in trials if fnmatch.fnmatchcase(t.variant, variants)]
            if not trials:
                raise AblateError(
                    f"--variants {variants!r} matches no variant of grid {self.name}; "
                    "`ablate list variants` shows their names"
                )
        if seeds is not None:
            if seeds < 1:
                raise AblateError(f"--seeds must be at least 1, got {seeds}")
            settings = _unique(Trial(t.task, t.variant, t.factors) for t in trials)
            trials = [
                Trial(t.task, t.variant, t.factors, seed)
                for t in settings
                for seed in range(seeds)
            ]
        return Grid(self.name, self.path, self.description, trials)


def grid_names() -> list[str]:
    """Names of the grids shipped under ``benchmarks/grids/``."""
    return sorted(path.stem for path in GRID_DIR.glob("*.toml"))


def find_grid(name_or_path: str) -> Path:
    """The file of a shipped grid name, or an existing TOML path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.parent != Path("."):
        if not path.is_file():
            raise AblateError(f"grid file {path} does not exist")
        return path
    shipped = GRID_DIR / f"{name_or_path}.toml"
    if not shipped.is_file():
        raise AblateError(
            f"no grid named {name_or_path!r}; shipped grids are "
            f"{', '.join(grid_names())}, or pass the path of a .toml file"
        )
    return shipped


def load_grid(name_or_path: str) -> Grid:
    """Parse and validate a grid; AblateError on any problem in it."""
    path = find_grid(name_or_path)
    return _load(path, seen=())


def _load(path: Path, seen: tuple[Path, ...]) -> Grid:
    where = str(path)
    if path.resolve() in seen:
        raise AblateError(f"{where}: include cycle through {path.stem}")
    try:
        with path.open("rb") as f:
            spec = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise AblateError(f"{where}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise AblateError(f"{where}: cannot read it: {exc.strerror}") from None
    _no_unknown_keys(spec, _GRID_KEYS, where)

    description = _typed(spec, "description", str, where, default="")
    default_seeds = _seeds(spec.get("seeds"), f"{where}: seeds")
    settings = _table(spec, "settings", where)
    includes = _typed(spec, "include", list, where, default=[])
    sweeps = _typed(spec, "sweep", list, where, default=[])
    if not sweeps and not includes:
        raise AblateError(f"{where}: no [[sweep]] and no include: the grid is empty")

    trials: list[Trial] = []
    for number, sweep in enumerate(sweeps, start=1):
        sweep_where = f"{where}: sweep {number}"
        if not isinstance(sweep, dict):
            raise AblateError(f"{sweep_where}: expected a table")
        trials.extend(_sweep_trials(sweep, settings, default_seeds, sweep_where))
    for key in settings:
        if not any(key in trial.factors for trial in trials):
            raise AblateError(
                f"{where}: settings.{key}: no variant here has this factor"
            )

    for name in includes:
        if not isinstance(name, str):
            raise AblateError(f"{where}: include: expected grid names, got {name!r}")
        included = _load(find_grid(name), seen + (path.resolve(),))
        trials.extend(included.trials)
    return Grid(path.stem, path, description, _unique(trials))


def _sweep_trials(
    sweep: dict, grid_settings: dict, default_seeds: list[int] | None, where: str
) -> list[Trial]:
    _no_unknown_keys(sweep, _SWEEP_KEYS, where)
    task = _typed(sweep, "task", str, where, default=None)
    patterns = _typed(sweep, "variants", list, where, default=None)
    if not patterns:
        raise AblateError(f"{where}: variants: expected a non-empty list of names")
    variants = _expand(patterns, task, f"{where}: variants")

    seeds = default_seeds
    if "seeds" in sweep:
        seeds = _seeds(sweep["seeds"], f"{where}: seeds")
    if seeds is None:
        raise AblateError(f"{where}: no seeds; set `seeds = N` or a list of seeds")

    settings = _table(sweep, "settings", where)
    axes = _table(sweep, "factors", where)
    for name, values in axes.items():
        if not isinstance(values, list) or not values:
            raise AblateError(
                f"{where}: factors.{name}: expected a non-empty list of values"
            )
        if len(set(map(repr, values))) != len(values):
            raise AblateError(f"{where}: factors.{name}: {values} repeats a value")

    trials = []
    for name in variants:
        variant = get_variant(name)
        # Grid-wide settings apply where the variant has the factor.
        fixed = {k: v for k, v in grid_settings.items() if k in variant.factors}
        fixed.update(settings)
        for values in itertools.product(*axes.values()):
            overrides = {**fixed, **dict(zip(axes, values, strict=True))}
            try:
                factors = variant.resolve(overrides)
            except ValueError as exc:
                raise AblateError(f"{where}: variant {name}: {exc}") from None
            trials += [Trial(variant.task, name, factors, seed) for seed in seeds]
    return trials


def _expand(patterns: list, task: str | None, where: str) -> list[str]:
    names: list[str] = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise AblateError(f"{where}: expected variant names, got {pattern!r}")
        matches = list_models(pattern, task=task)
        if not matches:
            try:
                get_variant(pattern)
            except KeyError as exc:
                raise AblateError(f"{where}: {exc.args[0]}") from None
            raise AblateError(f"{where}: variant {pattern} is not a {task} variant")
        for name in matches:
            if name in names:
                raise AblateError(f"{where}: variant {name} is listed twice")
            names.append(name)
    return names


def _seeds(value: Any, where: str) -> list[int] | None:
    if value is None:
        return None
    if type(value) is int:
        if value < 1:
            raise AblateError(f"{where}: expected a count of at least 1, got {value}")
        return list(range(value))
    if isinstance(value, list) and value and all(type(s) is int for s in value):
        if any(s < 0 for s in value) or len(set(value)) != len(value):
            raise AblateError(f"{where}: expected distinct seeds >= 0, got {value}")
        return list(value)
    raise AblateError(f"{where}: expected a count or a non-empty list of integers")


def _table(spec: dict, key: str, where: str) -> dict:
    return _typed(spec, key, dict, where, default={})


def _typed(spec: dict, key: str, kind: type, where: str, default: Any) -> Any:
    if key not in spec:
        return default
    value = spec[key]
    if not isinstance(value, kind):
        expected = {dict: "a table", list: "a list", str: "a string"}[kind]
        raise AblateError(f"{where}: {key}: expected {expected}, got {value!r}")
    return value


def _no_unknown_keys(spec: dict, known: set[str], where: str) -> None:
    for key in spec:
        if key not in known:
            expected = ", ".join(sorted(known))
            raise AblateError(
                f"{where}: unknown key {key!r}; expected one of {expected}"
            )


def _unique(trials) -> list[Trial]:
    seen: dict[str, Trial] = {}
    for trial in trials:
        seen.setdefault(trial.key, trial)
    return list(seen.values())
