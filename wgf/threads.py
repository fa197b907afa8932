"""Thread policy for the book's small networks.

The networks of the book are small (a few ten thousand parameters, batches of a few hundred
points), so one optimiser step is a handful of tiny matrix products.  Splitting those over
several intra-op threads buys nothing on an idle machine and costs a lot on a busy one: measured
on a 2-core machine, OT-CFM training (3×128 MLP, batch 128) ran at about 300 steps/s with torch's
default two threads or with one thread when idle, but with one other CPU-bound process running
it fell to about 95 steps/s with two threads and kept about 270 steps/s with one (the two
threads wait for each other at every barrier while the other process holds a core).  ``make
bench`` re-measures this on the machine at hand.

So training (:func:`wgf.train.fit`) and sampling run inside :func:`policy`, which sets torch's
intra-op thread count to one for a module below :data:`MAX_PARAMS` parameters and restores the
previous count afterwards.  The choice can be overridden, in this order of precedence:

1. the ``threads=`` argument of :func:`policy`;
2. :func:`configure` (``wgf.threads.configure(4)``; ``configure(None)`` restores the default);
3. the environment variable ``WGF_NUM_THREADS`` (a positive integer);
4. a call of ``torch.set_num_threads(k)`` made after ``wgf`` was imported: a thread count that
   differs from the one torch had when this module was imported is taken as the user's choice
   and left alone.

.. rubric:: Independent tasks: :func:`workers`

Intra-op threads split *one* operation and meet at a barrier after each; independent tasks
(the exact :math:`W_2` problems of a noise floor, :func:`wgf.ot.w2_many`; the chunks of a large
batch a sampler evaluates, :class:`wgf.sampling.Field`; the models a chapter trains,
:func:`wgf.zoo.get_many`) share nothing and meet once, at the end.  They use every core
the process may run on: on an idle 2-core machine two of them take little more than the time
of one, and beside a busy process they still get the share of the machine the scheduler gives
them (no barrier waits for a descheduled partner).  :func:`workers` chooses their number: an explicit
argument, else :func:`configure_workers`, else ``WGF_NUM_WORKERS``, else the number of cores
this process may use.  Worker *processes* (training) cost a start-up of a few seconds each, so
:func:`wgf.zoo.get_many` starts no more of them than :func:`idle_cores` reports.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = [
    "ENV_VAR",
    "MAX_PARAMS",
    "WORKERS_ENV_VAR",
    "applied",
    "choose",
    "configure",
    "configure_workers",
    "idle_cores",
    "policy",
    "workers",
]

#: Modules with at most this many parameters train and sample on one intra-op thread.
MAX_PARAMS = 2_000_000
#: Environment variable that fixes the thread count of :func:`policy`.
ENV_VAR = "WGF_NUM_THREADS"
#: Environment variable that fixes the number of :func:`workers` for independent tasks.
WORKERS_ENV_VAR = "WGF_NUM_WORKERS"

_BASELINE = torch.get_num_threads()  # torch's count when wgf was imported
_configured: int | None = None
_configured_workers: int | None = None
_active = 0  # nesting depth of policy(): inside it the count is ours, not the user's


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def configure(threads: int | None) -> None:
    """Fix the thread count used by :func:`policy` (``None``: back to the size rule)."""
    global _configured
    _configured = None if threads is None else _positive_int(threads, "threads")


def configure_workers(count: int | None) -> None:
    """Fix the number of :func:`workers` (``None``: back to the number of usable cores)."""
    global _configured_workers
    _configured_workers = None if count is None else _positive_int(count, "count")


def _from_env(var: str = ENV_VAR) -> int | None:
    raw = os.environ.get(var, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{var} must be a positive integer, got {raw!r}")
    return value


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _cpu_times() -> tuple[float, float]:
    """(idle, total) jiffies of all CPUs from ``/proc/stat`` (Linux); OSError elsewhere."""
    with open("/proc/stat") as fh:
        fields = fh.readline().split()
    if not fields or fields[0] != "cpu":
        raise OSError("/proc/stat has no cpu line")
    values = [float(v) for v in fields[1:]]
    return values[3] + (values[4] if len(values) > 4 else 0.0), sum(values[:8])


def idle_cores(interval: float = 0.2) -> float:
    """How many of the usable cores are idle now: the idle share of all CPUs over ``interval``
    seconds (``/proc/stat``), times the number of CPUs, at most the usable cores.

    Called while this process waits, so it counts what *other* processes use.  Where
    ``/proc/stat`` is missing, the usable cores minus the 1-minute load average.
    """
    try:
        idle0, total0 = _cpu_times()
        time.sleep(interval)
        idle1, total1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        try:
            return max(0.0, _usable_cores() - os.getloadavg()[0])
        except (AttributeError, OSError):
            return float(_usable_cores())
    if total1 <= total0:
        return float(_usable_cores())
    share = (idle1 - idle0) / (total1 - total0)
    return float(min(_usable_cores(), max(0.0, share * (os.cpu_count() or 1))))


def workers(count: int | None = None) -> int:
    """How many independent tasks to run at once (threads for exact OT, processes for training).

    Parameters
    ----------
    count : int or None
        Explicit number; overrides :func:`configure_workers`, ``WGF_NUM_WORKERS`` and the
        number of usable cores, in that order.

    Examples
    --------
    >>> from wgf import threads
    >>> threads.workers(3)
    3
    """
    if count is not None:
        return _positive_int(count, "workers")
    if _configured_workers is not None:
        return _configured_workers
    env = _from_env(WORKERS_ENV_VAR)
    if env is not None:
        return env
    return _usable_cores()


def _n_params(module) -> int:
    if module is None:
        return 0
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module or None, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters())


def choose(module=None, threads: int | None = None) -> int:
    """The intra-op thread count :func:`policy` would use for ``module``.

    Parameters
    ----------
    module : torch.nn.Module or None
        The network about to be trained or evaluated (``None``: treated as small).
    threads : int or None
        Explicit count; overrides every other rule.
    """
    if threads is not None:
        return _positive_int(threads, "threads")
    if _configured is not None:
        return _configured
    env = _from_env()
    if env is not None:
        return env
    current = torch.get_num_threads()
    if _active == 0 and current != _BASELINE:
        return current  # the user called torch.set_num_threads after importing wgf
    if _n_params(module) <= MAX_PARAMS:
        return 1
    return _BASELINE


@contextmanager
def policy(module=None, threads: int | None = None) -> Iterator[int]:
    """Run the body with :func:`choose`'s thread count; restore the previous count afterwards.

    Examples
    --------
    >>> import torch
    >>> from wgf import threads
    >>> with threads.policy(torch.nn.Linear(2, 2)) as n:
    ...     n
    1
    """
    global _active
    n = choose(module, threads)
    previous = torch.get_num_threads()
    if n != previous:
        torch.set_num_threads(n)
    _active += 1
    try:
        yield n
    finally:
        _active -= 1
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def applied(func):
    """Decorator: run ``func(module, ...)`` under :func:`policy` for its first argument.

    Used on :func:`wgf.train.fit` and on the samplers, whose first argument is the network (or
    a plain callable, which counts as small).
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        first = args[0] if args else None
        with policy(first if isinstance(first, torch.nn.Module) else None):
            return func(*args, **kwargs)

    return wrapper
