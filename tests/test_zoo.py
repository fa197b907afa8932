"""The model zoo: caching, keys (config, seed, data content, training source), dependencies,
fresh objects, and fault injection (every fault ends in a clean model, a warning, no lost work)."""

import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

from wgf import data, zoo
from wgf.mixtures import GaussianMixture
from wgf.trajectory import Trajectory

ROOT = Path(__file__).resolve().parents[1]


class Toy:
    """A minimal zoo model: SGD of a bias vector towards the target mean, from its current value.

    Training continues from whatever weights the module holds, so a model that was trained
    from partially loaded weights differs from a clean training (the fault the zoo must avoid).
    """

    defaults: ClassVar[dict] = {"steps": 5, "lr": 0.3}
    sampler_defaults: ClassVar[dict] = {"shift": 0.0}
    fits = 0

    def __init__(self, target, config, seed, *, name=None):
        self.target, self.name = data.resolve(target, name)
        self.config = config
        self.seed = seed
        self.module = torch.nn.Linear(self.target.dim, self.target.dim)
        torch.nn.init.zeros_(self.module.weight)
        torch.nn.init.zeros_(self.module.bias)

    def fit(self, progress=True, **deps):
        type(self).fits += 1
        self.deps = deps
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

    def sample(self, n, steps, generator=None, *, x0=None, keep=None):
        x0 = np.random.default_rng(generator).normal(size=(n, 2)) if x0 is None else x0
        x1 = x0 + self.module.bias.detach().numpy() + self.config["shift"]
        return Trajectory(np.array([0.0, 1.0]), np.stack([x0, x1]), nfe=steps)


class Student(Toy):
    """A toy that requires a trained ``Toy`` teacher (resolved by the zoo)."""

    requires: ClassVar[dict] = {"teacher": "toy"}
    defaults: ClassVar[dict] = {**Toy.defaults, "teacher": {}}

    def fit(self, progress=True, *, teacher=None):
        self.module.load_state_dict(teacher.module.state_dict())
        return super().fit(progress)


@pytest.fixture
def toy(tmp_path, monkeypatch):
    monkeypatch.setenv("WGF_CACHE_DIR", str(tmp_path))
    zoo.register("toy", Toy)
    zoo.register("toy_alias", Toy, trains_as="toy")
    zoo.register("student", Student)
    Toy.fits = 0
    zoo.clear_memory()
    yield tmp_path
    for name in ("toy", "toy_alias", "student"):
        zoo._REGISTRY.pop(name)
    zoo.clear_memory()


def _clean_bias(tmp_path, monkeypatch, **overrides):
    """The bias a clean cache would serve (trained in a fresh folder)."""
    monkeypatch.setenv("WGF_CACHE_DIR", str(tmp_path / "clean"))
    zoo.clear_memory()
    bias = zoo.get("toy", "gaussian", progress=False, **overrides).module.bias.detach().clone()
    monkeypatch.setenv("WGF_CACHE_DIR", str(tmp_path))
    zoo.clear_memory()
    return bias


# --- caching and fresh objects ---------------------------------------------------------------


def test_second_call_trains_nothing_and_returns_fresh_objects(toy):
    a = zoo.get("toy", "gaussian", progress=False)
    assert a.trained and Toy.fits == 1 and a.cache_path.exists()
    assert a.cache_path.parent == toy
    zoo.clear_memory()  # as in a new process
    b = zoo.get("toy", "gaussian", progress=False)
    assert not b.trained and Toy.fits == 1
    torch.testing.assert_close(a.module.bias, b.module.bias)
    np.testing.assert_array_equal(a.losses, b.losses)
    c = zoo.get("toy", "gaussian", progress=False)  # from memory, but a fresh object
    assert c is not b and not c.trained and Toy.fits == 1
    with torch.no_grad():
        c.module.bias.add_(100.0)  # a caller corrupting its own copy ...
    c.losses[:] = -1
    d = zoo.get("toy", "gaussian", progress=False)
    torch.testing.assert_close(d.module.bias, b.module.bias)  # ... corrupts nobody else's
    np.testing.assert_array_equal(d.losses, b.losses)
    # the alias shares the training entry
    e = zoo.get("toy_alias", "gaussian", progress=False)
    assert not e.trained and Toy.fits == 1 and e.cache_path == a.cache_path


def test_key_depends_on_seed_config_and_data_content(toy):
    k = zoo.key("toy", "gaussian")
    assert zoo.key("toy", "gaussian", seed=1) != k
    assert zoo.key("toy", "gaussian", lr=0.2) != k
    assert zoo.key("toy", "eight_gaussians") != k
    assert zoo.key("toy", "gaussian", lr=0.3) == k  # same as the default
    assert zoo.key("toy", "gaussian", shift=1.0) == k  # a sampler-only setting
    assert zoo.key("toy", data.gaussian()) == k  # the same content, passed as a mixture


def test_users_points_go_through_the_zoo_and_their_content_is_the_key(toy):
    x = np.random.default_rng(0).normal(loc=3.0, size=(50, 2))
    m = zoo.get("toy", data.Points(x, "mine"), progress=False)
    assert m.trained and "toy-mine-s0-" in m.cache_path.name
    np.testing.assert_allclose(m.module.bias.detach().numpy(), x.mean(0), atol=0.1)
    assert not zoo.get("toy", data.Points(x.copy(), "mine"), progress=False).trained
    assert zoo.key("toy", x) == zoo.key("toy", data.Points(x, "mine"))  # the name is a label
    # redefined under the same name: a new entry, trained on the new points
    y = x + 1.0
    m2 = zoo.get("toy", data.Points(y, "mine"), progress=False)
    assert m2.trained and m2.cache_path != m.cache_path
    np.testing.assert_allclose(m2.module.bias.detach().numpy(), y.mean(0), atol=0.1)
    # a mixture with other parameters is another target too
    mix = GaussianMixture([1.0], [[0.5, -0.5]], [[[1.0, 0.8], [0.8, 1.0001]]])
    assert zoo.key("toy", mix) != zoo.key("toy", "gaussian")


def test_requirements_are_resolved_by_the_zoo(toy):
    s = zoo.get("student", "gaussian", progress=False, teacher={"steps": 3})
    assert s.trained and Toy.fits == 1  # the teacher (Student counts its own fits)
    teacher = zoo.get("toy", "gaussian", progress=False, steps=3)
    assert not teacher.trained  # trained for the student, with its overrides
    # the teacher's training is part of the student's key
    assert zoo.key("student", "gaussian", teacher={"steps": 4}) != zoo.key(
        "student", "gaussian", teacher={"steps": 3}
    )
    with pytest.raises(TypeError, match="teacher"):
        zoo.key("student", "gaussian", teacher=3)


def test_training_modules_cover_what_training_imports_and_not_plot():
    for name in zoo.names():
        spec = zoo._REGISTRY[name]
        mods = zoo.training_modules(zoo._resolve(spec.target))
        assert "wgf.plot" not in mods and "wgf.metrics" not in mods
        assert "wgf.train" in mods and "wgf.nets" in mods
    ddpm = zoo.training_modules(zoo._resolve(zoo._REGISTRY["ddpm"].target))
    assert "wgf.sampling" not in ddpm  # declared sampler-only
    em = zoo.training_modules(zoo._resolve(zoo._REGISTRY["energy_matching"].target))
    assert "wgf.sampling" in em  # its training draws negatives with the sampler


_KEYS = """
import json, sys
from wgf import zoo
print(json.dumps({n: zoo.key(n, "eight_gaussians") for n in zoo.names()}))
"""


def _keys_in(copy: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(copy), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", _KEYS],
        env=env,
        cwd=copy,  # not the checkout: "-c" puts the working folder first on the path
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    return json.loads(out.stdout)


def test_documentation_edits_leave_every_key_unchanged(tmp_path):
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "wgf", copy / "wgf", ignore=shutil.ignore_patterns("__pycache__"))
    before = _keys_in(copy)
    plot = copy / "wgf" / "plot.py"
    plot.write_text('"""Edited docstring."""\n' + plot.read_text().split('"""', 2)[2])
    diff = copy / "wgf" / "diffusion.py"
    src = diff.read_text()
    diff.write_text(src.replace("DDPM and DDIM:", "DDPM and DDIM (edited):", 1) + "\n# a comment\n")
    assert _keys_in(copy) == before  # docstrings and comments are not part of a key
    sm = copy / "wgf" / "score_matching.py"
    sm.write_text(sm.read_text() + "\n_UNUSED = 1\n")  # a code edit in NCSN's module
    after = _keys_in(copy)
    assert after["ncsn"] != before["ncsn"]
    assert {n: k for n, k in after.items() if n != "ncsn"} == {
        n: k for n, k in before.items() if n != "ncsn"
    }


def test_identical_trainings_write_identical_bytes(toy):
    a = zoo.get("toy", "gaussian", progress=False)
    first = a.cache_path.read_bytes()
    zoo.get("toy", "gaussian", progress=False, retrain=True)
    assert a.cache_path.read_bytes() == first
    assert not list(toy.glob("*.tmp"))


# --- fault injection -------------------------------------------------------------------------


def _corrupt_and_reload(toy, monkeypatch, corrupt, match):
    clean = _clean_bias(toy, monkeypatch)
    a = zoo.get("toy", "gaussian", progress=False)
    corrupt(a.cache_path)
    zoo.clear_memory()
    fits = Toy.fits
    with pytest.warns(UserWarning, match=match):
        b = zoo.get("toy", "gaussian", progress=False)
    assert b.trained and Toy.fits == fits + 1
    torch.testing.assert_close(b.module.bias, clean, rtol=0, atol=0)  # as a clean cache would
    zoo.clear_memory()
    c = zoo.get("toy", "gaussian", progress=False)  # the rewritten entry is good
    assert not c.trained
    torch.testing.assert_close(c.module.bias, clean, rtol=0, atol=0)


def _edit_blob(edit):
    def corrupt(path):
        blob = torch.load(path, weights_only=True)
        edit(blob)
        torch.save(blob, path)

    return corrupt


def _redigest(blob):
    blob["digest"] = zoo._tensor_digest(blob["state"], blob["losses"])


def test_truncated_entry(toy, monkeypatch):
    def truncate(path):
        path.write_bytes(path.read_bytes()[:200])

    _corrupt_and_reload(toy, monkeypatch, truncate, "unusable")


def test_random_bytes_entry(toy, monkeypatch):
    def scramble(path):
        path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))

    _corrupt_and_reload(toy, monkeypatch, scramble, "unusable")


def test_flipped_bit_in_a_weight(toy, monkeypatch):
    def flip(path):
        raw = bytearray(path.read_bytes())
        bias = zoo.get("toy", "gaussian", progress=False).module.bias.detach().numpy().tobytes()
        at = raw.find(bias)
        assert at > 0
        raw[at + 1] ^= 0x10
        path.write_bytes(bytes(raw))

    _corrupt_and_reload(toy, monkeypatch, flip, "digest")


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda b: (b["state"].__setitem__("bias", torch.zeros(3)), _redigest(b)), "shape"),
        (lambda b: (b["state"].__setitem__("extra", torch.zeros(2)), _redigest(b)), "fit"),
        (lambda b: b.pop("losses"), "losses"),
        (lambda b: (b["state"]["bias"].fill_(float("nan")), _redigest(b)), "NaN"),
        (lambda b: b["state"]["weight"].add_(1.0), "digest"),
        (lambda b: b.__setitem__("key", "0" * 64), "stale"),
    ],
    ids=["wrong-shape", "extra-key", "missing-losses", "nan-weights", "edited-weights", "stale"],
)
def test_partial_or_bad_state_is_rebuilt_from_scratch(toy, monkeypatch, edit, match):
    _corrupt_and_reload(toy, monkeypatch, _edit_blob(edit), match)


def test_loads_are_weights_only(toy, monkeypatch):
    zoo.get("toy", "gaussian", progress=False)
    zoo.clear_memory()
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


def test_read_only_cache_folder_warns_and_returns_the_model(toy, monkeypatch):
    clean = _clean_bias(toy, monkeypatch)
    ro = toy / "ro"
    ro.mkdir()
    monkeypatch.setenv("WGF_CACHE_DIR", str(ro))
    ro.chmod(0o555)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    if os.geteuid() == 0:  # root ignores the mode bits: make the writes fail as they would
        monkeypatch.setattr(zoo.tempfile, "mkstemp", denied)
        monkeypatch.setattr(zoo.filelock.FileLock, "acquire", denied)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m = zoo.get("toy", "gaussian", progress=False)
        messages = " ".join(str(w.message) for w in caught)
        assert "could not write" in messages and "returned but not cached" in messages
        assert m.trained
        torch.testing.assert_close(m.module.bias, clean, rtol=0, atol=0)
        assert not list(ro.iterdir())
        assert not zoo.get("toy", "gaussian", progress=False).trained  # kept in memory
    finally:
        ro.chmod(0o755)


_WORKER = """
import sys, time
from typing import ClassVar
import numpy as np, torch
from wgf import data, zoo

class Slow:
    defaults: ClassVar[dict] = {"steps": 1}

    def __init__(self, target, config, seed, *, name=None):
        self.target, _ = data.resolve(target, name)
        self.module = torch.nn.Linear(2, 2)

    def fit(self, progress=True):
        with open(sys.argv[1], "a") as f:
            f.write("fit\\n")
        time.sleep(2.0)
        return np.zeros(1)

zoo.register("slow", Slow)
print("trained" if zoo.get("slow", "gaussian", progress=False).trained else "loaded")
"""


def test_two_processes_on_one_empty_entry_train_once(tmp_path):
    log = tmp_path / "fits.log"
    env = {
        **os.environ,
        "WGF_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}",
        "OMP_NUM_THREADS": "1",
    }
    (tmp_path / "worker.py").write_text(textwrap.dedent(_WORKER))
    procs = [
        subprocess.Popen(
            [sys.executable, str(tmp_path / "worker.py"), str(log)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    assert outs == ["loaded", "trained"]
    assert log.read_text().count("fit") == 1


# --- bad input -------------------------------------------------------------------------------


def test_bad_input(toy):
    with pytest.raises(ValueError, match="name must be one of"):
        zoo.get("gan", "gaussian")
    with pytest.raises(ValueError, match="name must be one of"):
        zoo.get("toy", "mnist")  # an unknown dataset name
    with pytest.raises(TypeError, match="target"):
        zoo.get("toy", 3.5)
    for bad in (-1, 1.5, True, "0"):
        with pytest.raises((TypeError, ValueError), match="seed"):
            zoo.get("toy", "gaussian", seed=bad)
    with pytest.raises(ValueError, match="unknown option"):
        zoo.get("toy", "gaussian", width=3)
    with pytest.raises(TypeError):
        zoo.register("bad", 3)
    with pytest.raises(ValueError, match="name"):
        data.Points(np.zeros((4, 2)), "a b/c")


def test_registry_and_cache_dir(monkeypatch, tmp_path):
    assert {"ddpm", "ddim", "ncsn", "i_cfm", "ot_cfm", "rectified_flow", "energy_matching"} <= set(
        zoo.names()
    )
    monkeypatch.delenv("WGF_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert zoo.cache_dir() == tmp_path / "wgf" / "zoo"
    assert len(zoo.source_digest(Toy)) == 64


# --- several models side by side ---------------------------------------------------------------


def test_get_many_trains_the_missing_models_in_worker_processes(toy, monkeypatch):
    requests = [("toy", "gaussian"), ("toy", "gaussian", 1), ("student", "gaussian", 0, {})]
    models = zoo.get_many(requests, workers=2, progress=False)
    assert Toy.fits == 0  # every training ran in a worker process; this one only loaded
    assert [m.trained for m in models] == [False, False, False]
    assert [m.cache_key for m in models] == [zoo.key(*r[:2], *r[2:3], **(r[3] if len(r) > 3 else {})) for r in requests]  # fmt: skip
    # the same weights, to the bit, as a training in this process
    clean = _clean_bias(toy, monkeypatch)
    torch.testing.assert_close(models[0].module.bias, clean, rtol=0, atol=0)
    # the teacher of the student came from the cache as well (trained in an earlier round)
    assert zoo.cache_path("toy", "gaussian").exists()


def test_get_many_with_one_worker_is_get(toy):
    models = zoo.get_many([("toy", "gaussian"), {"name": "toy", "target": "gaussian", "seed": 2}],
                          workers=1, progress=False)  # fmt: skip
    assert Toy.fits == 2 and all(m.trained for m in models)
    again = zoo.get_many([("toy", "gaussian")], workers=2, progress=False)
    assert Toy.fits == 2 and not again[0].trained


def test_get_many_real_models_match_a_training_here(tmp_path, monkeypatch):
    monkeypatch.setenv("WGF_CACHE_DIR", str(tmp_path / "a"))
    zoo.clear_memory()
    requests = [("ot_cfm", "two_moons", 0, {"steps": 20}), ("ddpm", "two_moons", 0, {"steps": 20})]
    side = zoo.get_many(requests, workers=2, progress=False)
    assert not any(m.trained for m in side)
    monkeypatch.setenv("WGF_CACHE_DIR", str(tmp_path / "b"))
    zoo.clear_memory()
    here = [zoo.get(n, t, s, progress=False, **o) for n, t, s, o in requests]
    assert all(m.trained for m in here)
    for a, b in zip(side, here, strict=True):
        assert a.cache_path.read_bytes() == b.cache_path.read_bytes()
    zoo.clear_memory()


def test_get_many_bad_requests(toy):
    with pytest.raises(TypeError, match="requests"):
        zoo.get_many(["toy"], progress=False)
    with pytest.raises(ValueError, match="'name' and 'target'"):
        zoo.get_many([{"name": "toy"}], progress=False)
    with pytest.raises(TypeError, match="overrides"):
        zoo.get_many([("toy", "gaussian", 0, 3)], progress=False)
    with pytest.raises(ValueError, match="name must be one of"):
        zoo.get_many([("gan", "gaussian")], progress=False)
    with pytest.raises(ValueError, match="workers"):
        zoo.get_many([("toy", "gaussian")], workers=0, progress=False)


def test_get_many_trains_here_on_a_busy_machine(toy, monkeypatch):
    from wgf import threads

    monkeypatch.setattr(threads, "idle_cores", lambda: 0.0)
    models = zoo.get_many([("toy", "gaussian"), ("toy", "gaussian", 1)], progress=False)
    assert Toy.fits == 2 and all(m.trained for m in models)  # no worker processes started
