"""Trained models, cached on disk: ``zoo.get(name, target, seed=0, **overrides)``.

Every generative model of the book is served here, each satisfying the one contract
:class:`wgf.sampling.GenerativeModel` (``sample(n, steps, generator=None, *, x0=None,
keep=None)``, ``field(x, t)``, ``prior(n)``, ``dim``).  The first call trains the model and
stores its weights; later calls, in this or any later process, load them.

``target`` is a dataset name (a key of :data:`wgf.data.DATASETS`), a
:class:`~wgf.mixtures.GaussianMixture`, or a user's own points (an (N, d) array, or
:class:`wgf.data.Points` to name them): ``zoo.get("ot_cfm", my_points)`` trains on them.

.. rubric:: Cache key

An entry is keyed by a SHA-256 hash of

* the training name and class, the seed and the *training* configuration (the class's
  ``defaults`` updated by ``overrides``; sampler-only settings, ``sampler_defaults``, are not
  part of it);
* the *content* of the target (:func:`wgf.data.digest`: a target redefined under the same name
  is a new entry);
* the source of the modules the model's training imports (:func:`training_modules`): the
  module of the class and, through its imports, every ``wgf`` module it reaches, except those
  it declares sampler-only (never :mod:`wgf.plot`, nor modules it does not import), each
  hashed without docstrings or comments, so a documentation edit retrains nothing; plus the
  versions of torch and numpy;
* the keys of the models it requires (``requires``, below).

.. rubric:: Cache entries

Entries live in ``$WGF_CACHE_DIR`` (default ``$XDG_CACHE_HOME/wgf/zoo``, i.e.
``~/.cache/wgf/zoo``).  Each holds the key, the weights, the training losses and a SHA-256
digest of the tensors.  Writes are atomic (a temporary file, then ``os.replace``) and
byte-deterministic (the archive is serialised in memory, so two identical trainings write
identical files).  Loads use ``torch.load(weights_only=True)`` and reject an entry that cannot
be read, whose key or tensor digest differs, whose tensors do not fit the network exactly, or
that holds NaN/Inf weights; such an entry is reported and the model is rebuilt from scratch and
retrained (a failed load never leaves half-copied weights behind).  A file lock (``filelock``)
per entry (an empty ``<entry>.pt.lock`` file beside it) makes a second process that asks for
an entry being trained wait and load it instead of training it again.  If the folder cannot be written, the trained model is returned with a
warning (and is trained again by the next process).

.. rubric:: What ``get`` returns

A fresh model object on every call (the weights of this process's earlier calls are reused
from memory, see :func:`clear_memory`), so a caller may modify its model without affecting
anyone else's.  Attributes ``losses`` (training history), ``trained`` (whether this call
trained it) and ``cache_path`` are set.

.. rubric:: Registering a model class

A class ``cls`` registered with :func:`register` provides

* ``cls.defaults``: a dict of JSON-serialisable training settings (part of the key);
* ``cls.sampler_defaults`` (optional): settings used only by ``sample`` (not part of the key);
* ``cls.sampling_only`` (optional): modules the class imports only to sample (not followed
  when the key collects the training's source, see :func:`training_modules`);
* ``cls.requires`` (optional): ``{role: zoo_name}``; the zoo trains or loads each dependency
  with the same target and seed and the overrides ``config[role]`` (a dict), and passes it to
  ``fit`` as ``fit(progress, **{role: model})``; no model module imports the zoo;
* ``cls(target, config, seed, name=None)``: builds the untrained model deterministically;
* ``model.module``: a ``torch.nn.Module`` holding every trained tensor (what is stored);
* ``model.fit(progress=True, **dependencies) -> numpy array`` of losses.

Several names may share one training (``"ddim"`` samples the network trained for ``"ddpm"``):
the entry is keyed by the training name.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import io
import json
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import filelock
import numpy as np
import torch

from . import data
from ._checks import seed as _seed

__all__ = [
    "ModelSpec",
    "cache_dir",
    "cache_path",
    "clear_memory",
    "get",
    "get_many",
    "key",
    "names",
    "register",
    "source_digest",
    "training_modules",
]


@dataclass(frozen=True)
class ModelSpec:
    """Where a model class lives (``module:attribute``) and which training it shares."""

    target: str | type
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

# weights trained or loaded in this process: key -> (state dict, losses, file stamp)
_MEMORY: dict[str, tuple[dict, np.ndarray, tuple | None]] = {}


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


def clear_memory() -> None:
    """Forget the weights held in this process (the next :func:`get` reads the disk)."""
    _MEMORY.clear()


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


# --------------------------------------------------------------------------------------------
# the source a training depends on
# --------------------------------------------------------------------------------------------


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return tree


def _imported_wgf_modules(tree: ast.AST, package: str) -> set[str]:
    """The ``wgf`` modules a module imports (anywhere in its body, also inside functions)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "wgf")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "wgf":
                continue
            if mod == "wgf":
                found.update(f"wgf.{a.name}" for a in node.names)
            else:
                found.add(mod)
    return {m for m in found if m != "wgf" and _source_file(m)[0] is not None}


def _source_file(module: str):
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):  # e.g. __main__ of a script has no spec
        spec = None
    origin = spec.origin if spec is not None else getattr(sys.modules.get(module), "__file__", None)
    is_pkg = bool(spec is not None and spec.submodule_search_locations)
    return (origin if origin and str(origin).endswith(".py") else None), is_pkg


@cache
def _module_source(module: str) -> tuple[str, frozenset]:
    """(digest of the docstring-free AST, imported wgf modules) of one module.

    A module without a source file (a class defined in a notebook) contributes its name only.
    """
    origin, is_pkg = _source_file(module)
    if origin is None:
        return hashlib.sha256(f"no source: {module}".encode()).hexdigest(), frozenset()
    tree = ast.parse(Path(origin).read_text(encoding="utf-8"))
    package = module if is_pkg else module.rpartition(".")[0]
    imports = _imported_wgf_modules(tree, package)
    dump = ast.dump(_strip_docstrings(tree), include_attributes=False)
    return hashlib.sha256(dump.encode()).hexdigest(), frozenset(imports)


def training_modules(cls, extra=()) -> list[str]:
    """The modules whose source a model's cache key covers.

    The class's module and every ``wgf`` module it imports, directly or through others, except
    the modules the class declares it uses only to sample (``cls.sampling_only``, e.g.
    ``("wgf.sampling", "wgf.trajectory")``; a model whose training samples, such as Energy
    Matching's negatives, declares none), which are not followed.  ``extra`` modules (the
    module of the target's class, whose ``sample`` draws the training data) are added with
    their imports.
    """
    skip = set(getattr(cls, "sampling_only", ()))
    todo, seen = [cls.__module__, *extra], set()
    while todo:
        m = todo.pop()
        if m in seen or m in skip:
            continue
        seen.add(m)
        todo.extend(_module_source(m)[1] - seen)
    return sorted(seen)


def source_digest(cls, extra=()) -> str:
    """SHA-256 of the (docstring-free) source of :func:`training_modules` of ``cls``."""
    h = hashlib.sha256()
    for m in training_modules(cls, extra):
        h.update(m.encode())
        h.update(_module_source(m)[0].encode())
    h.update(f"torch {torch.__version__} numpy {np.__version__}".encode())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# keys and paths
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    name: str
    spec: ModelSpec
    cls: type
    train_cls: type
    dist: object
    target_name: str
    seed: int
    config: dict  # training + sampler settings
    train_config: dict
    key: str
    deps: dict  # role -> _Entry

    @property
    def path(self) -> Path:
        return (
            cache_dir()
            / f"{self.spec.trains_as}-{self.target_name}-s{self.seed}-{self.key[:16]}.pt"
        )


def _entry(name, target, seed, overrides, target_name=None) -> _Entry:
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"name must be one of {names()}, got {name!r}")
    seed = _seed(seed)
    dist, target_name = data.resolve(target, target_name)
    spec = _REGISTRY[name]
    cls = _resolve(spec.target)
    train_cls = _resolve(_REGISTRY[spec.trains_as].target) if spec.trains_as in _REGISTRY else cls
    train_defaults = dict(getattr(train_cls, "defaults", {}))
    sampler_defaults = dict(getattr(cls, "sampler_defaults", {}))
    unknown = set(overrides) - set(train_defaults) - set(sampler_defaults)
    if unknown:
        known = sorted({*train_defaults, *sampler_defaults})
        raise ValueError(f"unknown option(s) {sorted(unknown)} for {name!r}; known: {known}")
    train_config = {**train_defaults, **{k: v for k, v in overrides.items() if k in train_defaults}}
    config = {
        **sampler_defaults,
        **{k: v for k, v in overrides.items() if k in sampler_defaults},
        **train_config,
    }
    deps = {}
    for role, dep_name in dict(getattr(train_cls, "requires", {})).items():
        dep_overrides = train_config.get(role, {})
        if not isinstance(dep_overrides, dict):
            raise TypeError(
                f"{role} must be a dict of {dep_name!r} overrides, got {dep_overrides!r}"
            )
        deps[role] = _entry(dep_name, dist, seed, dep_overrides, target_name)
    payload = {
        "trains_as": spec.trains_as,
        "class": f"{train_cls.__module__}.{train_cls.__qualname__}",
        "target": data.digest(dist),
        "seed": seed,
        "config": train_config,
        "source": source_digest(train_cls, (type(dist).__module__,)),
        "requires": {role: d.key for role, d in deps.items()},
    }
    key = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return _Entry(
        name, spec, cls, train_cls, dist, target_name, seed, config, train_config, key, deps
    )


def key(name: str, target, seed: int = 0, **overrides) -> str:
    """The cache key (hex SHA-256) :func:`get` would use."""
    return _entry(name, target, seed, overrides).key


def cache_path(name: str, target, seed: int = 0, **overrides) -> Path:
    """Path of the cache entry that :func:`get` would use."""
    return _entry(name, target, seed, overrides).path


# --------------------------------------------------------------------------------------------
# reading and writing entries
# --------------------------------------------------------------------------------------------


def _tensor_digest(state: dict, losses: torch.Tensor) -> str:
    h = hashlib.sha256()
    for k in sorted(state):
        v = state[k].detach().cpu().contiguous()
        h.update(f"{k}|{v.dtype}|{tuple(v.shape)}|".encode())
        h.update(v.numpy().tobytes())
    h.update(f"losses|{tuple(losses.shape)}|".encode())
    h.update(losses.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _read(path: Path, key: str, module: torch.nn.Module):
    """(state, losses) of a valid entry for ``module``; raises ValueError on any fault."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or blob.get("key") != key:
        raise ValueError("stale entry (its key does not match)")
    state, losses = blob.get("state"), blob.get("losses")
    if not isinstance(state, dict) or not isinstance(losses, torch.Tensor):
        raise ValueError("entry lacks its weights or its losses")
    if blob.get("digest") != _tensor_digest(state, losses):
        raise ValueError("tensor digest mismatch (corrupted weights)")
    expected = module.state_dict()
    if set(state) != set(expected):
        raise ValueError(
            f"weights do not fit the network (keys {sorted(set(state) ^ set(expected))})"
        )
    for k, v in expected.items():
        if not isinstance(state[k], torch.Tensor) or state[k].shape != v.shape:
            raise ValueError(f"weight {k!r} has the wrong shape")
        if state[k].is_floating_point() and not bool(torch.isfinite(state[k]).all()):
            raise ValueError(f"weight {k!r} holds NaN/Inf")
    losses = np.asarray(losses.numpy(), dtype=float)
    if losses.ndim != 1:
        raise ValueError("losses must be a 1-D history")
    return state, losses


def _stamp(path: Path):
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _save(path: Path, key: str, module: torch.nn.Module, losses) -> bool:
    """Write an entry atomically; warn and return False if the folder cannot be written."""
    state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    loss_t = torch.as_tensor(np.asarray(losses, dtype=np.float64))
    blob = {"key": key, "state": state, "losses": loss_t, "digest": _tensor_digest(state, loss_t)}
    buf = io.BytesIO()
    torch.save(blob, buf)  # in memory: the archive's internal name is fixed, bytes deterministic
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.getvalue())
        os.replace(tmp, path)
        tmp = None
        return True
    except OSError as err:
        warnings.warn(
            f"zoo: could not write the cache entry {path} ({err}); the trained model is "
            "returned but not cached",
            stacklevel=3,
        )
        return False
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


class _Lock:
    """The entry's file lock, or nothing (with a warning) where the folder is not writable."""

    def __init__(self, path: Path):
        self.lock = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.lock = filelock.FileLock(str(path) + ".lock")
            self.lock.acquire()
        except OSError as err:
            self.lock = None
            warnings.warn(
                f"zoo: cannot lock {path.name} ({err}); training without a lock", stacklevel=4
            )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.lock is not None:
            self.lock.release()


def _build(entry: _Entry):
    return entry.cls(entry.dist, dict(entry.config), entry.seed, name=entry.target_name)


def _obtain(entry: _Entry, progress: bool, retrain: bool):
    """(state, losses, trained) for an entry: from memory, from disk, or by training."""
    path = entry.path
    memo = _MEMORY.get(entry.key)
    if not retrain and memo is not None and memo[2] == _stamp(path):
        return memo[0], memo[1], False
    with _Lock(path):
        model = _build(entry)
        if not retrain and path.exists():
            try:
                state, losses = _read(path, entry.key, model.module)
                _MEMORY[entry.key] = (state, losses, _stamp(path))
                return state, losses, False
            except Exception as err:  # any unusable entry is rebuilt, never trusted
                warnings.warn(
                    f"zoo: discarding unusable cache entry {path.name} ({err}); retraining "
                    "from scratch",
                    stacklevel=3,
                )
        deps = {role: get_entry(d, progress) for role, d in entry.deps.items()}
        model = _build(entry)  # a fresh model: nothing of a failed load survives
        losses = np.asarray(model.fit(progress=progress, **deps), dtype=float)
        state = {k: v.detach().cpu().clone() for k, v in model.module.state_dict().items()}
        _save(path, entry.key, model.module, losses)
        _MEMORY[entry.key] = (state, losses, _stamp(path))
        return state, losses, True


def get_entry(entry: _Entry, progress: bool = True, retrain: bool = False):
    """The model of a resolved entry (used by :func:`get` and for dependencies)."""
    state, losses, trained = _obtain(entry, progress, retrain)
    model = _build(entry)
    model.module.load_state_dict(state, strict=True)
    model.module.eval()
    model.losses = losses.copy()
    model.trained = trained
    model.cache_path = entry.path
    model.cache_key = entry.key
    return model


def get(
    name: str, target, seed: int = 0, *, progress: bool = True, retrain: bool = False, **overrides
):
    """A trained model ``name`` for ``target``: loaded from the cache, or trained and cached.

    Parameters
    ----------
    name : str
        One of :func:`names` (``"ddpm"``, ``"ddim"``, ``"ncsn"``, ``"i_cfm"``, ``"ot_cfm"``,
        ``"rectified_flow"``, ``"energy_matching"``).
    target : str, GaussianMixture, wgf.data.Points or array (N, d)
        A dataset name (a key of :data:`wgf.data.DATASETS`), a mixture, or data points.
    seed : int
        Seed of initialisation and training.
    progress : bool
        Show training progress.
    retrain : bool
        Ignore (and overwrite) an existing entry.
    **overrides
        Settings replacing the model's ``defaults`` or ``sampler_defaults`` (unknown names
        raise ``ValueError``).

    Returns
    -------
    model
        A fresh object satisfying :class:`wgf.sampling.GenerativeModel`, with attributes
        ``losses`` (training history), ``trained`` (whether this call trained it),
        ``cache_path`` and ``cache_key``.
    """
    return get_entry(_entry(name, target, seed, overrides), progress, retrain)


# --------------------------------------------------------------------------------------------
# several models at once: the missing ones trained side by side
# --------------------------------------------------------------------------------------------


def _spec_string(target) -> str | None:
    """``module:attribute`` of a registered class, or None where a fresh process cannot import it."""
    if isinstance(target, str):
        return target
    module, qualname = getattr(target, "__module__", ""), getattr(target, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        return None
    return f"{module}:{qualname}"


def _request(item) -> _Entry:
    if isinstance(item, dict):
        item = dict(item)
        try:
            name, target = item.pop("name"), item.pop("target")
        except KeyError:
            raise ValueError("a request dict needs the keys 'name' and 'target'") from None
        return _entry(name, target, item.pop("seed", 0), item)
    if isinstance(item, (tuple, list)) and 2 <= len(item) <= 4:
        name, target, *rest = item
        seed = rest[0] if rest else 0
        overrides = rest[1] if len(rest) > 1 else {}
        if not isinstance(overrides, dict):
            raise TypeError(f"a request's overrides must be a dict, got {type(overrides).__name__}")
        return _entry(name, target, seed, overrides)
    raise TypeError(
        "requests must hold (name, target[, seed[, overrides]]) tuples or dicts with 'name' "
        f"and 'target', got {item!r}"
    )


def _train_in_worker(job: dict) -> str:
    """Run in a fresh process: train one entry into the parent's cache folder."""
    os.environ["WGF_CACHE_DIR"] = job["cache"]
    for reg_name, (target, trains_as) in job["registry"].items():
        if reg_name not in _REGISTRY or _spec_string(_REGISTRY[reg_name].target) != target:
            register(reg_name, target, trains_as)
    entry = _entry(job["name"], job["dist"], job["seed"], job["overrides"], job["target_name"])
    if entry.key != job["key"]:
        raise RuntimeError(
            f"the worker computed another key for {job['name']!r} (its wgf source differs)"
        )
    _obtain(entry, progress=False, retrain=False)
    return entry.key


def _job(entry: _Entry) -> dict | None:
    registry = {}
    for e in (entry, *_all_deps(entry)):
        for reg_name in {e.name, e.spec.trains_as}:
            spec = _REGISTRY.get(reg_name)
            if spec is None:
                continue
            target = _spec_string(spec.target)
            if target is None:
                return None  # a class only this process knows: trained here, serially
            registry[reg_name] = (target, spec.trains_as)
    return {
        "name": entry.name,
        "dist": entry.dist,
        "target_name": entry.target_name,
        "seed": entry.seed,
        "overrides": dict(entry.config),
        "key": entry.key,
        "cache": str(cache_dir()),
        "registry": registry,
    }


def _all_deps(entry: _Entry) -> list[_Entry]:
    out = []
    for dep in entry.deps.values():
        out += [*_all_deps(dep), dep]
    return out


def _missing_waves(entries) -> list[list[_Entry]]:
    """Entries (and dependencies) with no file on disk, by depth: dependencies first."""
    depth: dict[str, tuple[int, _Entry]] = {}

    def visit(e: _Entry) -> int:
        level = 1 + max((visit(d) for d in e.deps.values()), default=-1)
        if not e.path.exists() and (e.key not in _MEMORY):
            if e.key not in depth or depth[e.key][0] < level:
                depth[e.key] = (level, e)
        return level

    for e in entries:
        visit(e)
    waves: dict[int, list[_Entry]] = {}
    for level, e in depth.values():
        waves.setdefault(level, []).append(e)
    return [waves[k] for k in sorted(waves)]


def get_many(requests, *, workers: int | None = None, progress: bool = True) -> list:
    """Several trained models; those not yet cached are trained side by side, one per process.

    Each model trains on one intra-op thread (:mod:`wgf.threads`), so a chapter that needs
    several untrained models leaves cores idle if it trains them one after the other.  This
    trains the missing entries in ``workers`` fresh processes at once (dependencies, such as
    rectified flow's teacher, in an earlier round), writes them to the cache exactly as
    :func:`get` would (the same key, the same bytes: training is deterministic given its seed),
    and then returns ``[get(...) for each request]``.

    Parameters
    ----------
    requests : iterable
        ``(name, target)``, ``(name, target, seed)``, ``(name, target, seed, overrides)``
        tuples, or dicts ``{"name": ..., "target": ..., "seed": ..., **overrides}``.
    workers : int, optional
        Processes (default :func:`wgf.threads.workers`: the usable cores, or one when the
        machine is busy, see Notes).  With one, or one missing model, everything runs in this
        process, as :func:`get`.
    progress : bool
        Show progress.

    Returns
    -------
    list
        The models, in the order of ``requests`` (each a fresh object, as from :func:`get`).

    Notes
    -----
    Each worker first imports torch and ``wgf`` (a few seconds), and beside other busy
    processes it gets only a share of a core, so side-by-side training pays only on a machine
    with a free core.  Measured by ``make bench`` on 2 cores, two OT-CFM trainings of 3000 steps:
    1.27 times faster on two processes when idle, 0.81 times (slower) beside one busy process.
    So, unless ``workers`` is given, as many processes start as there are idle cores
    (:func:`wgf.threads.idle_cores`, rounded; measured while this process waits): beside one
    busy process on 2 cores the models train here, one after the other.

    A model class registered from a notebook or script (``__main__``) cannot be imported by a
    fresh process; its entries train here, one after the other.  If a worker fails, the entry
    is trained here afterwards, where its error (if any) is raised.
    """
    from . import threads

    entries = [_request(item) for item in requests]
    k = threads.workers(workers)
    if workers is None and k > 1:  # as many processes as there are idle cores (see Notes)
        k = max(1, min(k, int(threads.idle_cores() + 0.5)))
    waves = _missing_waves(entries)
    if k > 1 and sum(len(w) for w in waves) > 1:
        _train_side_by_side(waves, k, progress)
    return [get_entry(e, progress) for e in entries]


def _train_side_by_side(waves, k: int, progress: bool) -> None:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    total = sum(len(w) for w in waves)
    bar = tqdm(total=total, desc=f"zoo: training {total} models on {k} processes", leave=False,
               disable=False if progress else True)  # fmt: skip
    try:
        with ProcessPoolExecutor(max_workers=k, mp_context=mp.get_context("spawn")) as pool:
            for wave in waves:
                jobs = [(e, _job(e)) for e in wave]
                futures = {pool.submit(_train_in_worker, job): e for e, job in jobs if job}
                for fut, e in futures.items():
                    try:
                        fut.result()
                    except Exception as err:  # retrained here, where its error surfaces
                        warnings.warn(
                            f"zoo: training {e.name!r} in a worker failed ({err!r}); training "
                            "it in this process",
                            stacklevel=3,
                        )
                    bar.update()
    except (OSError, RuntimeError) as err:  # no processes on this platform: train serially
        warnings.warn(f"zoo: cannot train in parallel ({err}); training serially", stacklevel=3)
    finally:
        bar.close()
