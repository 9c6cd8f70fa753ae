"""Send SIGINT to a real ``cpmap`` process while it solves and observe how it ends (test_reliability.py and
benchmarks/bench_interrupt.py). Linux: processes are found through /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class InterruptOutcome:
    """How an interrupted run ended."""

    exit_code: int
    stop_seconds: float  # from the SIGINT to the end of the process
    stdout: str
    stderr: str
    workers: tuple[int, ...]  # the processes the run had started when interrupted
    workers_left: tuple[int, ...]  # those of them still running after its end


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # the command name (field 2) may hold spaces: the fields after its closing parenthesis are fixed
        fields = stat[stat.rindex(")") + 2 :].split()
        out.setdefault(int(fields[1]), []).append(int(entry))
    return out


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...)."""
    tree = _children()
    out, todo = [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (an ended child its new parent has not reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def interrupt_run(
    args: list[str], cwd: Path, settle: float = 1.0, timeout: float = 120.0, process_group: bool = False
) -> InterruptOutcome:
    """Start ``python -m cpmap.cli *args``, wait until it has worker processes and ``settle`` more seconds,
    send SIGINT and wait for the end. ``process_group``: send it to the process group cpmap was started in,
    as a terminal's Ctrl-C does (cpmap then leads its own group, as a shell's foreground job does); else to
    the cpmap process only."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cpmap.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=process_group,
    )
    try:
        deadline = time.monotonic() + timeout
        while not descendants(proc.pid):
            if proc.poll() is not None or time.monotonic() > deadline:
                out, err = proc.communicate()
                raise RuntimeError(f"the run ended (or never started a worker) before the interrupt: {proc.returncode} {err[-500:]}")
            time.sleep(0.02)
        time.sleep(settle)
        workers = tuple(descendants(proc.pid))
        t0 = time.perf_counter()
        if process_group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=timeout)
        stop = time.perf_counter() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    time.sleep(0.1)  # SIGKILLed processes vanish from /proc within moments
    return InterruptOutcome(proc.returncode, stop, out, err, workers, tuple(p for p in workers if running(p)))
