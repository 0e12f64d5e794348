"""Tables as text: Markdown, LaTeX and CSV, with one number format per column.

``format_frame`` turns a table into strings (scores to two decimals, p-values
to two significant digits, missing values as ``n/a``); ``markdown_table`` and
``latex_table`` lay those strings out, numbers right-aligned. The Markdown
layout is written here rather than with ``DataFrame.to_markdown`` to avoid a
dependency on ``tabulate``. ``write_table`` saves all three formats; its CSV
keeps the unformatted numbers.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports.frames import format_value, is_missing


def _fixed(digits: int) -> Callable[[float], str]:
    return lambda value: f"{value:.{digits}f}"


def _p_value(value: float) -> str:
    return f"{value:.2g}" if value >= 1e-4 else f"{value:.1e}"


def _flag(value: Any) -> str:
    return "yes" if bool(value) else "no"


# Columns formatted the same way in every table; others use format_value.
FORMATS: dict[str, Callable[[Any], str]] = {
    **dict.fromkeys(
        ["mean", "std", "ci_low", "ci_high", "median", "val_mean", "difference"],
        _fixed(2),
    ),
    **dict.fromkeys(["mean_level", "mean_reference", "cohens_dz"], _fixed(2)),
    "time_s": lambda value: f"{value:.3g}",
    "params": lambda value: f"{value:,.0f}",
    "wilcoxon_w": lambda value: f"{value:g}",
    "p_value": _p_value,
    "p_holm": _p_value,
    "significant": _flag,
    "better": _flag,
}


def format_frame(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with every cell as a string (see ``FORMATS``)."""
    formatted = {}
    for name in table.columns:
        style = FORMATS.get(name, format_value)
        formatted[name] = [
            "n/a" if is_missing(value) else style(value) for value in table[name]
        ]
    return pd.DataFrame(formatted, columns=list(table.columns), dtype=object)


def _is_numeric(values: pd.Series) -> bool:
    present = values.dropna()
    kinds = (int, float, np.integer, np.floating)
    return len(present) > 0 and all(
        isinstance(value, kinds) and not isinstance(value, bool | np.bool_)
        for value in present
    )


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``table``, one line per row."""
    cells = format_frame(table)
    numeric = [_is_numeric(table[name]) for name in table.columns]

    def line(values: list[str]) -> str:
        escaped = [str(value).replace("|", "\\|") for value in values]
        return "| " + " | ".join(escaped) + " |"

    rule = ["---:" if right else "---" for right in numeric]
    lines = [line([str(name) for name in table.columns]), line(rule)]
    lines += [line(list(row)) for row in cells.itertuples(index=False)]
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def latex_table(table: pd.DataFrame, caption: str | None = None) -> str:
    """A booktabs LaTeX table of ``table``, special characters escaped."""
    cells = format_frame(table)
    alignment = "".join("r" if _is_numeric(table[n]) else "l" for n in table.columns)
    caption = latex_escape(caption) if caption else None
    return cells.to_latex(
        index=False, escape=True, column_format=alignment, caption=caption
    )


def write_table(table: pd.DataFrame, stem: Path, caption: str) -> list[Path]:
    """Write ``stem``.md, .csv and .tex; return the three paths.

    The CSV holds the raw values (ten significant digits), the other two the
    formatted ones; the LaTeX table carries ``caption``.
    """
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(suffix) for suffix in (".md", ".csv", ".tex")]
    paths[0].write_text(markdown_table(table))
    table.to_csv(paths[1], index=False, float_format="%.10g", lineterminator="\n")
    paths[2].write_text(latex_table(table, caption))
    return paths
