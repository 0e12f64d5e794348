"""How a process that trains is set up: threads, allocator, and Ctrl-C.

Every job of a grid calls ``configure_worker`` before it trains, whatever the
backend (joblib's loky workers, dask, ray, or the main process for
``--jobs 1``). Neither setting changes a number a trial produces.

Threads: with one worker per core, one torch thread per worker is fastest; two
workers with two threads each on two cores ran three times slower.

Allocator: evaluating a digits network on the 1000 test pairs allocates
activations of about 37 MB. glibc serves blocks above 32 MB (the largest value
its adaptive mmap threshold reaches) from fresh mmaps and hands them back on
free, so each evaluation faulted every page in again: about 9,500 page faults
and a third of its time. Below ``MMAP_THRESHOLD`` blocks now come from the heap,
and the heap keeps up to ``TRIM_THRESHOLD`` of free memory for the next use.

Ctrl-C: a terminal sends SIGINT to every process of the foreground group,
workers included. In a worker, the KeyboardInterrupt could land in loky's own
code between two jobs, which then printed a traceback under the main
process's one-line message. Worker processes ignore SIGINT; the main process
stops the run and its workers, as it does for a SIGTERM sent to it alone.
"""

import ctypes
import ctypes.util
import logging
import multiprocessing
import platform
import signal
import threading
from functools import cache

import torch

log = logging.getLogger(__name__)

# mallopt parameters, from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 2**20  # bytes
TRIM_THRESHOLD = 256 * 2**20  # bytes


def configure_worker(threads: int) -> None:
    """Pin torch to ``threads`` threads, tune glibc's allocator, ignore Ctrl-C.

    Ctrl-C is ignored only in a worker process's main thread: the main
    process (``--jobs 1``) and threads of dask workers keep their handlers.
    """
    torch.set_num_threads(threads)
    tune_allocator()
    if (
        multiprocessing.parent_process() is not None
        and threading.current_thread() is threading.main_thread()
    ):
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@cache
def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds; False where that is not possible.

    On other C libraries (macOS, musl) nothing changes and training runs as
    usual, with the page faults described above.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        ok = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    except (OSError, AttributeError) as exc:
        log.debug("could not tune the allocator: %s", exc)
        return False
    if not ok:
        log.debug("glibc refused the allocator thresholds")
    return ok
