"""Every zoo model on the 2-D mixtures, judged by the statistics with power.

Two stages, so that the sampling stage can run with exactly the package that trained the cached
models (the zoo keys its cache on the package source):

    python benchmarks/power_table.py dump OUT [--seeds 0 1 2] [--tag T] [--set model.key=value]
    python benchmarks/power_table.py table OUT [--json FILE]

``dump`` trains (or loads from the zoo cache) each model, draws n = 4000 samples at its headline
step counts from fixed prior draws and writes one ``.npz`` per model, dataset and seed.
``table`` reads them and prints, for each, the per-component test (largest width ratio, weights
p-value, means and covariances p-values, the fraction of samples off every mode) and, where an
exact oracle exists, the paired RMS displacement to it (DDIM: exact-score DDIM on the same x_T;
I-CFM: the exact marginal field of the independent coupling on the same x0).  The same statistics
of the exact target and of the negative controls head the table.

The last column is the effect-size criterion of the issue that asked for this table (largest
width ratio <= 1.05 and weights p > 0.01 at n = 4000); the calibrated test is the overall p-value
(Bonferroni over weights, off-mode fraction, means, covariances), which also catches means and
covariances that are off in units of their sampling error while the width ratio looks fine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

N = 4000
DATASETS = ("eight_gaussians", "two_moons")
#: model -> headline step counts sampled (the first is the headline)
STEPS = {
    "ddpm": [1000],
    "ddim": [50],
    "ncsn": [501],  # 500 Langevin steps + the Tweedie step
    "i_cfm": [100],
    "ot_cfm": [4, 100, 1],
    "rectified_flow": [4, 1],
    "energy_matching": [100],
}


def _parse_sets(items):
    over: dict[str, dict] = {}
    for item in items or []:
        key, _, value = item.partition("=")
        model, _, opt = key.partition(".")
        over.setdefault(model, {})[opt] = json.loads(value)
    return over


def dump(out: Path, seeds, tag: str, overrides, models, datasets=DATASETS) -> None:
    import torch

    from wgf import data, diffusion, zoo

    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    for ds in datasets:
        for seed in seeds:
            for name in models:
                t0 = time.time()
                over = overrides.get("ddpm" if name == "ddim" else name, {})
                m = zoo.get(name, ds, seed, progress=False, **over)
                train_s = time.time() - t0
                x0 = np.random.default_rng(1000 + seed).standard_normal((N, 2))
                res = {"x0": x0}
                for s in STEPS[name]:
                    start = {} if name == "ncsn" else {"x0": x0}  # NCSN: prior N(0, sigma_1^2 I)
                    res[f"s{s}"] = m.sample(N, s, generator=7, keep=2, **start).samples
                if name == "ddim":
                    exact = diffusion.mixture_eps(data.get(ds), m.betas)
                    res["exact"] = diffusion.ddim_sample(
                        exact, m.betas, STEPS[name][0], x0=x0, keep=2
                    ).samples
                np.savez(out / f"{tag}-{name}-{ds}-s{seed}.npz", **res)
                info = {"tag": tag, "model": name, "dataset": ds, "seed": seed, "config": over,
                        "trained": bool(getattr(m, "trained", False)),
                        "seconds": round(time.time() - t0, 1), "train_seconds": round(train_s, 1)}  # fmt: skip
                print(json.dumps(info), flush=True)


def _row(label, x, cells, extra=None):
    from wgf.components import component_test

    r = component_test(x, cells)
    row = {
        "label": label,
        "max_width": r.max_width,
        "p_weights": r.p_weights,
        "p_means": r.p_means,
        "p_covs": r.p_covs,
        "off": r.off_fraction,
        "p": r.p_value,
        "pass": bool(r.max_width <= 1.05 and r.p_weights > 0.01),
    }
    row.update(extra or {})
    return row


def table(out: Path, json_path=None) -> list[dict]:
    from wgf import controls, data
    from wgf.components import dataset_cells
    from wgf.flow_matching import euler_sample
    from wgf.metrics import icfm_velocity, paired_displacement

    rows = []
    for ds in DATASETS:
        mix = data.get(ds)
        cells = dataset_cells(ds)
        rows.append(_row(f"{ds} | exact target", mix.sample(N, 1), cells))
        pair = (list(range(20)), list(range(20, 40))) if ds == "two_moons" else (0, 1)
        drop = [8, 9] if ds == "two_moons" else 0
        for name, ctrl in controls.negative_controls(mix, pair=pair, drop=drop).items():
            rows.append(_row(f"{ds} | control: {name}", ctrl.sample(N, 2), cells))
        for f in sorted(out.glob(f"*-{ds}-s*.npz")):
            parts = f.stem.split("-")  # tag (may hold dashes), model, dataset, s<seed>
            tag, name, seed = "-".join(parts[:-3]), parts[-3], parts[-1][1:]
            z = np.load(f)
            for s in STEPS[name]:
                extra = {}
                if name == "ddim" and s == STEPS[name][0]:
                    extra["paired_rms"] = paired_displacement(z[f"s{s}"], z["exact"]).upper
                if name == "i_cfm":
                    y = euler_sample(icfm_velocity(mix), z["x0"], s, keep=2).samples
                    extra["paired_rms"] = paired_displacement(z[f"s{s}"], y).upper
                label = f"{ds} | {name} ({s}) [{tag}] s{seed}"
                rows.append(_row(label, z[f"s{s}"], cells, extra))
    print("| dataset | sampler | max width / true | weights p | means p | covs p | off % | "
          "paired RMS (upper 95 %) | overall p | width <= 1.05 and weights p > 0.01 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ds, label = r["label"].split(" | ")
        pr = f"{r['paired_rms']:.3f}" if "paired_rms" in r else ""
        print(f"| {ds} | {label} | {r['max_width']:.3f} | {r['p_weights']:.3g} | "
              f"{r['p_means']:.3g} | {r['p_covs']:.3g} | {100 * r['off']:.2f} | {pr} | {r['p']:.2g} | "
              f"{'yes' if r['pass'] else 'no'} |")  # fmt: skip
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=1))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    d.add_argument("--seeds", type=int, nargs="+", default=[0])
    d.add_argument("--tag", default="default")
    d.add_argument("--models", nargs="+", default=list(STEPS))
    d.add_argument("--datasets", nargs="+", default=list(DATASETS))
    d.add_argument("--set", action="append", help="model.option=json-value (a zoo override)")
    t = sub.add_parser("table")
    t.add_argument("out", type=Path)
    t.add_argument("--json")
    a = p.parse_args(argv)
    if a.cmd == "dump":
        dump(a.out, a.seeds, a.tag, _parse_sets(a.set), a.models, a.datasets)
    else:
        table(a.out, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
