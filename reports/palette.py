"""One colour per variant, the same in every figure of a report.

Colours come from seaborn's ten-colour ``colorblind`` palette, handed out to
the variant names in sorted order. The report builder makes one mapping from
every variant of a task (stored or expected), so a variant keeps its colour
across all figures even when some of them lack it.
"""

from collections.abc import Iterable

import pandas as pd
import seaborn as sns

PALETTE_NAME = "colorblind"
NUM_COLORS = 10  # seaborn's colorblind palette

Color = tuple[float, float, float]


def variant_palette(variants: Iterable[str]) -> dict[str, Color]:
    """Map each distinct variant name, sorted, to a colour of the palette.

    Beyond ten variants the colours repeat (``sorted index mod 10``).
    """
    # NOTE: ten colours are all a colourblind-safe qualitative palette offers;
    # a figure with more variants should tell them apart by label, not colour.
    names = sorted({str(name) for name in variants if not pd.isna(name)})
    colors = sns.color_palette(PALETTE_NAME, NUM_COLORS)
    return {name: tuple(colors[i % NUM_COLORS]) for i, name in enumerate(names)}


def palette_for(frame: pd.DataFrame, palette: dict[str, Color] | None) -> dict:
    """``palette`` when given, else one made from ``frame["variant"]``."""
    if palette is not None:
        missing = sorted(set(frame["variant"]) - set(palette))
        if missing:
            raise KeyError(f"palette has no colour for variants {missing}")
        return palette
    return variant_palette(frame["variant"])
