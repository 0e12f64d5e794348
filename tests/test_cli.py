"""The command line: user mistakes give one line and exit 2, never a traceback."""

import os
import sqlite3
import subprocess
import sys

import pytest

from benchmarks.cli import main


def ablate(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.cli", *args],
        capture_output=True, text=True, cwd=cwd, timeout=300,
    )  # fmt: skip


def _one_line_error(result: subprocess.CompletedProcess, pattern: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{result.stderr}"
    assert lines[0].startswith("ablate: error: ")
    assert pattern in lines[0], lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["run", "nosuchgrid"], "no grid named 'nosuchgrid'"),
        (["run", "smoke", "--backend", "spark"], "--backend 'spark'"),
        (["run", "smoke", "--jobs", "0"], "--jobs must be"),
        (["run", "smoke", "--threads", "0"], "--threads must be"),
        (["run", "smoke", "--seeds", "0"], "--seeds must be at least 1"),
        (["run", "smoke", "--variants", "zzz*"], "matches no variant"),
        (["run", "smoke", "--scheduler", "tcp://x:1"], "only applies with"),
        (["run", "smoke", "--backend", "dask"], "needs --scheduler"),
        (["list", "variants", "zzz*"], "no variant matches"),
        (["report", "smoke", "--store", "nothing.sqlite"], "does not exist"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path, args, pattern):
    _one_line_error(ablate(*args, cwd=tmp_path), pattern)


def test_unreachable_scheduler_is_refused(tmp_path):
    result = ablate(
        "run", "smoke", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9",
        "--store", str(tmp_path / "s.sqlite"),
    )  # fmt: skip
    _one_line_error(result, "cannot reach the dask scheduler")


def test_store_that_is_a_directory_is_refused(tmp_path):
    _one_line_error(ablate("run", "smoke", "--store", str(tmp_path)), "is a directory")


def test_corrupt_store_is_refused_untouched(tmp_path):
    path = tmp_path / "broken.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + b"\x13" * 4000)
    before = path.read_bytes()
    _one_line_error(ablate("status", "--store", str(path)), "cannot be used")
    assert path.read_bytes() == before


def test_foreign_database_is_refused_untouched(tmp_path):
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE songs (title TEXT)")
    db.commit()
    db.close()
    before = path.read_bytes()
    _one_line_error(ablate("status", "--store", str(path)), "another program")
    assert path.read_bytes() == before


def test_bad_grid_file_names_file_and_key(tmp_path):
    grid = tmp_path / "mine.toml"
    grid.write_text("seeds = 2\n[[sweep]]\nvariants = ['siamese']\n"
                    "factors = { aux_coef = [1.5] }\n")  # fmt: skip
    result = ablate("run", str(grid), "--store", str(tmp_path / "s.sqlite"))
    _one_line_error(result, "mine.toml: sweep 1: variant siamese: aux_coef must be")
    assert not (tmp_path / "s.sqlite").exists(), "a store was created before validation"


def test_debug_shows_the_traceback(tmp_path):
    result = ablate("--debug", "run", "nosuchgrid", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_list_and_dry_run(tmp_path, capsys):
    assert main(["list", "variants", "siam*"]) == 0
    out = capsys.readouterr().out
    assert "siamese" in out and "digits" in out and "params" in out
    assert main(["list", "grids"]) == 0
    assert "smoke" in capsys.readouterr().out
    store = str(tmp_path / "s.sqlite")
    assert main(["run", "digits", "--dry-run", "--store", store]) == 0
    assert "540 trials, 0 done, 540 to train, about" in capsys.readouterr().out


def test_data_prints_what_it_found(mnist_dir, capsys):
    assert main(["data", "--data-dir", str(mnist_dir)]) == 0
    out = capsys.readouterr().out
    assert "60000 images" in out and "10000 images" in out
    assert "5923 6742" in out  # the first two digits' training counts


def test_a_run_leaves_torch_and_pandas_to_its_workers(tmp_path, mnist_dir):
    """Planning, dispatching and storing need neither: the main process of
    ``ablate run`` starts its workers without first spending 2-3 s on them."""
    grid = tmp_path / "tiny.toml"
    grid.write_text(
        "[[sweep]]\nvariants = ['cnn']\nseeds = 1\nsettings = { epochs = 1 }\n"
        "[[sweep]]\nvariants = ['circle_mlp']\nseeds = 2\n"
        "settings = { epochs = 2 }\n"
    )
    args = ["run", str(grid), "--jobs", "2", "--quiet", "--data-dir", str(mnist_dir)]
    args += ["--store", str(tmp_path / "s.sqlite")]
    script = (
        "import sys\nfrom benchmarks.cli import main\n"
        f"code = main({args!r})\n"
        "print(code, [m for m in ('torch', 'pandas') if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert "3 trained, 0 already done, 0 failed" in done.stdout, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 []"


def test_loky_resource_tracker_warnings_stay_off_the_error_line(monkeypatch):
    """The tracker, a process of its own, takes its warning filters from the
    environment: a run that stops on an error must not gain its exit warning."""
    from benchmarks.cli import _quiet_loky_resource_tracker

    monkeypatch.setenv("PYTHONWARNINGS", "default::DeprecationWarning")
    _quiet_loky_resource_tracker()
    _quiet_loky_resource_tracker()
    filters = "default::DeprecationWarning,ignore:resource_tracker:UserWarning"
    assert os.environ["PYTHONWARNINGS"] == filters
    child = subprocess.run(
        [sys.executable, "-c",
         "import warnings; warnings.warn('resource_tracker: /loky-1: gone')"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert child.stderr == ""
