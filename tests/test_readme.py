"""The README's promises: its Python examples run, its grid table is current."""

import re
from pathlib import Path

import pytest

from benchmarks.grids import grid_names, load_grid

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", README.read_text(), re.S | re.M)


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_every_python_example_runs(index, mnist_dir, capsys):
    source = _python_blocks()[index]
    exec(compile(source, f"README.md python block {index}", "exec"), {})
    expected = re.search(r'print\(f"(\w[\w ]*) \{.*\}"\)  # ([\d.]+)', source)
    if expected:
        label, value = expected.groups()
        assert f"{label} {value}" in capsys.readouterr().out, "the printed result"


def test_the_grid_table_counts_every_shipped_grid():
    rows = dict(re.findall(r"^\| `(\w+)` \| (\d+) \|", README.read_text(), re.M))
    assert set(rows) == set(grid_names()), "one row per shipped grid"
    for name, count in rows.items():
        assert int(count) == len(load_grid(name).trials), f"trials of {name}"


def test_the_test_command_is_marked_for_ci():
    text = README.read_text()
    marker = text.index("<!-- test-command -->")
    assert "tox -e lint,py" in text[marker : marker + 300]
