"""Trained models, cached on disk: ``zoo.get(name, dataset, seed=0, **overrides)``.

Every generative model of the book is served here with one interface,
``model.sample(n, steps, generator=None) -> Trajectory`` (DESIGN.md section 3).  The first call
trains the model and stores its weights; later calls, in this or any later process, load them.

.. rubric:: Cache

Entries live in ``$WGF_CACHE_DIR`` (default ``$XDG_CACHE_HOME/wgf/zoo``, i.e.
``~/.cache/wgf/zoo``; the Makefile points it at ``.cache/zoo`` inside the checkout).  An entry
is keyed by a SHA-256 hash of the model name, its class, the dataset, the seed, the full
configuration (defaults updated by ``overrides``) and the source of the ``wgf`` package, so a
change to any of these trains afresh.  Writes are atomic (a temporary file, then
``os.replace``); loads use ``torch.load(weights_only=True)``; an entry that cannot be read, whose
stored key differs, or whose weights do not fit the network is reported and retrained.

.. rubric:: Model protocol

A registered model class ``cls`` provides

* ``cls.defaults``: a dict of JSON-serialisable configuration values;
* ``cls(dataset, config, seed)``: builds the untrained model deterministically (``dataset`` is
  a name from :data:`wgf.data.DATASETS`; ``config`` the merged configuration);
* ``model.module``: a ``torch.nn.Module`` holding every trained tensor (parameters and
  buffers), which is what the cache stores;
* ``model.fit(progress=True) -> numpy array`` of losses (the training history);
* ``model.sample(n, steps, generator=None, **kwargs) -> Trajectory``.

Several names may share one training (``"ddim"`` samples the network trained for ``"ddpm"``):
the entry is keyed by the training name.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

from . import data

__all__ = ["ModelSpec", "cache_dir", "cache_path", "get", "names", "register", "source_digest"]


@dataclass(frozen=True)
class ModelSpec:
    """Where a model class lives (``module:attribute``) and which training it shares."""

    target: str
    trains_as: str


_REGISTRY: dict[str, ModelSpec] = {
    "ddpm": ModelSpec("wgf.diffusion:DDPM", "ddpm"),
    "ddim": ModelSpec("wgf.diffusion:DDIM", "ddpm"),
    "ncsn": ModelSpec("wgf.score_matching:NCSN", "ncsn"),
    "i_cfm": ModelSpec("wgf.flow_matching:ICFM", "i_cfm"),
    "ot_cfm": ModelSpec("wgf.flow_matching:OTCFM", "ot_cfm"),
    "rectified_flow": ModelSpec("wgf.flow_matching:RectifiedFlow", "rectified_flow"),
    "energy_matching": ModelSpec("wgf.energy_matching:EnergyMatching", "energy_matching"),
}

_MEMORY: dict[tuple, object] = {}  # models loaded in this process, keyed by entry and file stamp


def register(name: str, target, trains_as: str | None = None) -> None:
    """Register a model class (or ``"module:attribute"`` string) under ``name``."""
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string")
    if not (isinstance(target, str) or isinstance(target, type)):
        raise TypeError("target must be a class or a 'module:attribute' string")
    _REGISTRY[name] = ModelSpec(target, trains_as or name)


def names() -> list[str]:
    """Names :func:`get` serves."""
    return sorted(_REGISTRY)


def _resolve(target):
    if isinstance(target, type):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def cache_dir() -> Path:
    """The cache folder (``$WGF_CACHE_DIR``, else ``$XDG_CACHE_HOME/wgf/zoo``)."""
    env = os.environ.get("WGF_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "wgf" / "zoo"


@cache
def source_digest() -> str:
    """SHA-256 of the source files of the ``wgf`` package (part of every cache key)."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _spec_and_config(name, dataset, seed, overrides):
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose from {names()}")
    if dataset not in data.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {sorted(data.DATASETS)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    spec = _REGISTRY[name]
    cls = _resolve(spec.target)
    unknown = set(overrides) - set(cls.defaults)
    if unknown:
        raise ValueError(
            f"unknown option(s) {sorted(unknown)} for {name!r}; known: {sorted(cls.defaults)}"
        )
    config = {**cls.defaults, **overrides}
    return spec, cls, config


def _key(spec, cls, dataset, seed, config) -> str:
    train_cls = _resolve(_REGISTRY[spec.trains_as].target) if spec.trains_as in _REGISTRY else cls
    payload = {
        "trains_as": spec.trains_as,
        "class": f"{train_cls.__module__}.{train_cls.__qualname__}",
        "dataset": dataset,
        "seed": int(seed),
        "config": config,
        "source": source_digest(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def cache_path(name: str, dataset: str, seed: int = 0, **overrides) -> Path:
    """Path of the cache entry that :func:`get` would use."""
    spec, cls, config = _spec_and_config(name, dataset, seed, overrides)
    key = _key(spec, cls, dataset, seed, config)
    return cache_dir() / f"{spec.trains_as}-{dataset}-s{int(seed)}-{key[:16]}.pt"


def _load(path: Path, key: str, module: torch.nn.Module):
    """Load an entry into ``module``; return the losses, or ``None`` with a warning if unusable."""
    if not path.exists():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(blob, dict) or blob.get("key") != key:
            raise ValueError("stale entry (its key does not match)")
        module.load_state_dict(blob["state"], strict=True)
        return np.asarray(blob["losses"].numpy(), dtype=float)
    except Exception as err:  # any unreadable entry is retrained, never trusted
        warnings.warn(
            f"zoo: discarding unusable cache entry {path.name} ({err}); retraining", stacklevel=3
        )
        return None


def _save(path: Path, key: str, module: torch.nn.Module, losses) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {
        "key": key,
        "state": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "losses": torch.as_tensor(np.asarray(losses, dtype=np.float64)),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(blob, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def get(
    name: str,
    dataset: str,
    seed: int = 0,
    *,
    progress: bool = True,
    retrain: bool = False,
    **overrides,
):
    """A trained model ``name`` for ``dataset``: loaded from the cache, or trained and cached.

    Parameters
    ----------
    name : str
        One of :func:`names` (``"ddpm"``, ``"ddim"``, ``"ncsn"``, ``"i_cfm"``, ``"ot_cfm"``,
        ``"rectified_flow"``, ``"energy_matching"``).
    dataset : str
        A key of :data:`wgf.data.DATASETS`.
    seed : int
        Seed of initialisation and training.
    progress : bool
        Show training progress.
    retrain : bool
        Ignore (and overwrite) an existing entry.
    **overrides
        Configuration values replacing the model's ``defaults`` (unknown names raise).

    Returns
    -------
    model
        With ``sample(n, steps, generator=None)``, plus attributes ``losses`` (training
        history), ``trained`` (whether this call trained it) and ``cache_path``.
    """
    spec, cls, config = _spec_and_config(name, dataset, seed, overrides)
    key = _key(spec, cls, dataset, seed, config)
    path = cache_path(name, dataset, seed, **overrides)
    stat = path.stat() if path.exists() else None
    memo = (name, key, stat.st_mtime_ns, stat.st_size) if stat else None
    if not retrain and memo in _MEMORY:
        return _MEMORY[memo]
    model = cls(dataset, config, int(seed))
    losses = None if retrain else _load(path, key, model.module)
    trained = losses is None
    if trained:
        losses = np.asarray(model.fit(progress=progress), dtype=float)
        _save(path, key, model.module, losses)
    model.module.eval()
    model.losses = losses
    model.trained = trained
    model.cache_path = path
    stat = path.stat()
    _MEMORY[(name, key, stat.st_mtime_ns, stat.st_size)] = model
    return model
