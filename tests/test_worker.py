"""A training worker's set-up: threads pinned, the allocator tuned, Ctrl-C left
to the main process."""

import platform
import signal
import subprocess
import sys
import threading

import pytest
import torch
from joblib import Parallel, delayed

from benchmarks.worker import configure_worker

# Page faults of ten evaluations of a convolution on 2000 digits (37 MB of
# activations, as an evaluation on the test pairs), after one warm-up round.
FAULTS = """
import resource, sys
import torch
from benchmarks.worker import tune_allocator
if sys.argv[1] == "tuned":
    assert tune_allocator()
torch.set_num_threads(1)
x = torch.randn(2000, 1, 14, 14)
conv = torch.nn.Conv2d(1, 32, 3)
def evaluate():
    with torch.no_grad():
        torch.nn.functional.max_pool2d(conv(x), 2).relu()
evaluate()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    evaluate()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_configure_worker_pins_threads():
    threads = torch.get_num_threads()
    try:
        configure_worker(2)
        assert torch.get_num_threads() == 2
        configure_worker(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="the allocator tuning is glibc's"
)
def test_tuned_allocator_reuses_big_blocks():
    def faults(mode: str) -> int:
        command = [sys.executable, "-c", FAULTS, mode]
        return int(subprocess.run(command, capture_output=True, check=True).stdout)

    # Untuned, glibc maps each 37 MB block afresh: ~9,000 faults per round.
    assert faults("default") > 50_000
    assert faults("tuned") < 20_000


def _sigint_after_configuring():
    configure_worker(1)
    return signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_worker_processes_leave_ctrl_c_to_the_main_process():
    in_workers = Parallel(n_jobs=2)(delayed(_sigint_after_configuring)() for _ in "ab")
    assert in_workers == [True, True]

    # The main process (--jobs 1) and threads (dask workers) keep their handler.
    threads = torch.get_num_threads()
    try:
        handler = signal.getsignal(signal.SIGINT)
        assert not _sigint_after_configuring()
        thread = threading.Thread(target=_sigint_after_configuring)
        thread.start()
        thread.join()
        assert signal.getsignal(signal.SIGINT) is handler
    finally:
        torch.set_num_threads(threads)
