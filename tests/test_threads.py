"""The thread policy: one intra-op thread for small networks, restored afterwards, overridable."""

import pytest
import torch

from wgf import threads, train


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    before = torch.get_num_threads()
    threads.configure(None)
    yield
    threads.configure(None)
    torch.set_num_threads(before)


def _baseline():
    torch.set_num_threads(threads._BASELINE)


def test_small_module_runs_on_one_thread_and_count_is_restored():
    _baseline()
    with threads.policy(torch.nn.Linear(2, 2)) as n:
        assert n == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == threads._BASELINE


def test_restored_after_an_exception():
    _baseline()
    with pytest.raises(RuntimeError), threads.policy(None):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == threads._BASELINE


def test_large_module_keeps_the_default(monkeypatch):
    _baseline()
    monkeypatch.setattr(threads, "MAX_PARAMS", 5)
    assert threads.choose(torch.nn.Linear(10, 10)) == threads._BASELINE


def test_overrides_in_order(monkeypatch):
    _baseline()
    small = torch.nn.Linear(2, 2)
    monkeypatch.setenv(threads.ENV_VAR, "3")
    assert threads.choose(small) == 3
    threads.configure(2)
    assert threads.choose(small) == 2
    assert threads.choose(small, threads=4) == 4


def test_user_choice_after_import_is_respected():
    if threads._BASELINE == 1:
        torch.set_num_threads(2)
        expected = 2
    else:
        torch.set_num_threads(1)
        expected = 1
    with threads.policy(torch.nn.Linear(2, 2)) as n:
        assert n == expected


def test_fit_runs_under_the_policy():
    _baseline()
    seen = []
    lin = torch.nn.Linear(2, 1)

    def loss(rng, step):
        seen.append(torch.get_num_threads())
        return (lin(torch.ones(4, 2)) ** 2).mean()

    train.fit(lin, loss, steps=3, progress=False)
    assert seen == [1, 1, 1]
    assert torch.get_num_threads() == threads._BASELINE


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_counts_rejected(bad):
    with pytest.raises(ValueError, match="threads"):
        threads.configure(bad)
    with pytest.raises(ValueError, match="threads"):
        threads.choose(None, threads=bad)


def test_bad_env_and_module(monkeypatch):
    monkeypatch.setenv(threads.ENV_VAR, "zero")
    with pytest.raises(ValueError, match=threads.ENV_VAR):
        threads.choose(None)
    monkeypatch.delenv(threads.ENV_VAR)
    with pytest.raises(TypeError, match="module"):
        threads.choose(object())


# ---------------------------------------------------------------- workers (independent tasks)


def test_workers_overrides_in_order(monkeypatch):
    monkeypatch.delenv(threads.WORKERS_ENV_VAR, raising=False)
    threads.configure_workers(None)
    try:
        assert threads.workers() == threads._usable_cores() >= 1
        monkeypatch.setenv(threads.WORKERS_ENV_VAR, "3")
        assert threads.workers() == 3
        threads.configure_workers(5)
        assert threads.workers() == 5
        assert threads.workers(2) == 2
        threads.configure_workers(None)
        assert threads.workers() == 3
    finally:
        threads.configure_workers(None)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_workers_bad_counts_rejected(bad, monkeypatch):
    with pytest.raises(ValueError, match="workers"):
        threads.workers(bad)
    with pytest.raises(ValueError, match="count"):
        threads.configure_workers(bad)
    monkeypatch.setenv(threads.WORKERS_ENV_VAR, "none")
    with pytest.raises(ValueError, match=threads.WORKERS_ENV_VAR):
        threads.workers()


def test_idle_cores_from_the_cpu_times(monkeypatch):
    ticks = iter([(100.0, 400.0), (150.0, 500.0)])  # half the CPU time idle in between
    monkeypatch.setattr(threads, "_cpu_times", lambda: next(ticks))
    expected = min(threads._usable_cores(), 0.5 * threads.os.cpu_count())
    assert threads.idle_cores(0.0) == expected

    def missing():
        raise OSError("no /proc/stat")

    monkeypatch.setattr(threads, "_cpu_times", missing)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (99.0, 0.0, 0.0))
    assert threads.idle_cores(0.0) == 0.0


def test_idle_cores_measured_here_is_within_the_usable_cores():
    assert 0.0 <= threads.idle_cores(0.05) <= threads._usable_cores()
