"""Independent tasks in child processes that a Ctrl-C ends at once.

The solvers run native code that does not return to Python for seconds, and CP-SAT installs its own SIGINT
handler while it solves (it ends the search as if a time limit were reached, and the run would go on). So the
solves run in worker processes, each in its own process group (a terminal's Ctrl-C reaches only the calling
process), while the calling process only waits on them in Python, where a KeyboardInterrupt arrives at once.
On any exception there, the KeyboardInterrupt included, the process groups of the workers (the workers and
any process they started, e.g. the MILP engine's HiGHS child) are killed before the exception goes on.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_in_processes(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    processes: int,
    on_done: Callable[[int], None] | None = None,
) -> list[R]:
    """``[fn(t) for t in tasks]`` computed in ``processes`` worker processes, in task order.

    ``on_done(i)`` is called in this process as task ``i`` finishes. An exception of a task is raised here
    (the other workers are killed first), and so is a KeyboardInterrupt while waiting.
    """
    results: list[Any] = [None] * len(tasks)
    if not tasks:
        return results
    pool = ProcessPoolExecutor(max_workers=max(1, min(processes, len(tasks))), initializer=_worker_start)
    try:
        pending = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=pending.__getitem__):
                i = pending.pop(fut)
                results[i] = fut.result()
                if on_done is not None:
                    on_done(i)
    except BaseException:
        _kill_workers(pool)
        raise
    pool.shutdown(wait=True)
    return results


def _worker_start() -> None:
    # Own process group: the terminal's SIGINT goes to the caller only, and the caller can end a worker
    # together with its own children (killpg).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.setpgid(0, 0)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """End every worker of ``pool`` and its children now (SIGKILL: the solver may not return to Python)."""
    # Python 3.14 has pool.kill_workers(); before it, the worker processes are only reachable here (and only
    # until shutdown() forgets them).
    workers = list((getattr(pool, "_processes", None) or {}).values())
    for proc in workers:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # already gone, or not yet in its own group: the kill below covers it
        try:
            proc.kill()
        except (ProcessLookupError, ValueError, AttributeError):
            pass
    for proc in workers:
        proc.join(timeout=5)
    # the pool's own thread sees the dead workers, fails what is left and ends: nothing waits at exit
    pool.shutdown(wait=True, cancel_futures=True)
