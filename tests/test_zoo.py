"""The model zoo: caching (a second call trains nothing), corrupt/stale entries, weights_only loads."""

from typing import ClassVar

import numpy as np
import pytest
import torch

from wgf import zoo
from wgf.trajectory import Trajectory


class Toy:
    """A minimal model following the zoo protocol: fits the target mean with a bias vector."""

    defaults: ClassVar[dict] = {"steps": 30, "lr": 0.1}
    fits = 0

    def __init__(self, dataset, config, seed):
        from wgf import data

        self.target = data.get(dataset)
        self.config = config
        self.seed = seed
        self.module = torch.nn.Linear(2, 2)
        torch.nn.init.zeros_(self.module.weight)
        torch.nn.init.zeros_(self.module.bias)

    def fit(self, progress=True):
        type(self).fits += 1
        losses = []
        opt = torch.optim.SGD(self.module.parameters(), lr=self.config["lr"])
        mean = torch.tensor(self.target.mean(), dtype=torch.float32)
        for _ in range(self.config["steps"]):
            loss = ((self.module.bias - mean) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        return np.array(losses)

    def sample(self, n, steps, generator=None):
        x0 = np.random.default_rng(generator).normal(size=(n, 2))
        x1 = x0 + self.module.bias.detach().numpy()
        return Trajectory(np.array([0.0, 1.0]), np.stack([x0, x1]), nfe=steps)


@pytest.fixture
def toy(tmp_path, monkeypatch):
    monkeypatch.setenv("WGF_CACHE_DIR", str(tmp_path))
    zoo.register("toy", Toy)
    zoo.register("toy_alias", Toy, trains_as="toy")
    Toy.fits = 0
    yield tmp_path
    zoo._REGISTRY.pop("toy")
    zoo._REGISTRY.pop("toy_alias")
    zoo._MEMORY.clear()


def test_second_call_trains_nothing(toy):
    a = zoo.get("toy", "gaussian", progress=False)
    assert a.trained and Toy.fits == 1 and a.cache_path.exists()
    assert a.cache_path.parent == toy
    zoo._MEMORY.clear()  # as in a new process
    b = zoo.get("toy", "gaussian", progress=False)
    assert not b.trained and Toy.fits == 1
    torch.testing.assert_close(a.module.bias, b.module.bias)
    np.testing.assert_array_equal(a.losses, b.losses)
    assert zoo.get("toy", "gaussian", progress=False) is b  # memoised in-process
    # the alias shares the training entry
    c = zoo.get("toy_alias", "gaussian", progress=False)
    assert not c.trained and Toy.fits == 1 and c.cache_path == a.cache_path


def test_key_depends_on_seed_config_and_dataset(toy):
    p = zoo.cache_path("toy", "gaussian")
    assert zoo.cache_path("toy", "gaussian", seed=1) != p
    assert zoo.cache_path("toy", "gaussian", lr=0.2) != p
    assert zoo.cache_path("toy", "eight_gaussians") != p
    assert zoo.cache_path("toy", "gaussian", lr=0.1) == p  # same as the default


def test_corrupt_entry_is_retrained(toy):
    a = zoo.get("toy", "gaussian", progress=False)
    a.cache_path.write_bytes(b"this is not a torch file")
    zoo._MEMORY.clear()
    with pytest.warns(UserWarning, match="unusable"):
        b = zoo.get("toy", "gaussian", progress=False)
    assert b.trained and Toy.fits == 2
    zoo._MEMORY.clear()
    assert not zoo.get("toy", "gaussian", progress=False).trained


def test_stale_entry_is_retrained(toy):
    a = zoo.get("toy", "gaussian", progress=False)
    blob = torch.load(a.cache_path, weights_only=True)
    blob["key"] = "0" * 64
    torch.save(blob, a.cache_path)
    zoo._MEMORY.clear()
    with pytest.warns(UserWarning, match="stale"):
        assert zoo.get("toy", "gaussian", progress=False).trained


def test_loads_are_weights_only(toy, monkeypatch):
    zoo.get("toy", "gaussian", progress=False)
    zoo._MEMORY.clear()
    calls = []
    real = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    assert not zoo.get("toy", "gaussian", progress=False).trained
    assert calls == [True]


def test_entry_with_pickled_object_is_refused(toy):
    path = zoo.cache_path("toy", "gaussian")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"key": "x", "state": {}, "losses": Toy}, path)  # a class: not weights-only
    with pytest.warns(UserWarning, match="unusable"):
        assert zoo.get("toy", "gaussian", progress=False).trained
    assert not list(toy.glob("*.tmp"))  # no temporary files left behind


def test_bad_input(toy):
    with pytest.raises(ValueError, match="unknown model"):
        zoo.get("gan", "gaussian")
    with pytest.raises(ValueError, match="unknown dataset"):
        zoo.get("toy", "mnist")
    with pytest.raises(ValueError, match="seed"):
        zoo.get("toy", "gaussian", seed=-1)
    with pytest.raises(ValueError, match="unknown option"):
        zoo.get("toy", "gaussian", width=3)
    with pytest.raises(TypeError):
        zoo.register("bad", 3)


def test_registry_and_cache_dir(monkeypatch, tmp_path):
    assert {"ddpm", "ddim", "ncsn", "i_cfm", "ot_cfm", "rectified_flow", "energy_matching"} <= set(
        zoo.names()
    )
    monkeypatch.delenv("WGF_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert zoo.cache_dir() == tmp_path / "wgf" / "zoo"
    assert len(zoo.source_digest()) == 64
