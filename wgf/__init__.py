"""wgf: gradient flows and geodesics in Wasserstein space.

The executable companion to Yao & Zhang (2026), *The Geometry Behind Diffusion and Flow
Matching*.  The package is a set of small, flat modules, one concept each, imported by the
chapters of the book in ``book/``:

``wgf.ot``, ``wgf.gaussian_ot``
    the quadratic Wasserstein distance: closed forms in 1-D (quantiles), exact and entropic
    discrete optimal transport through POT, and the empirical noise floor; the Gaussian
    (Bures-Wasserstein) closed forms, W2 and the affine optimal map, in their own module
    (re-exported by ``wgf.ot``).
``wgf.geodesics``, ``wgf.benamou_brenier``
    geodesics of (P2, W2): McCann's displacement interpolation (closed forms and samples) and the
    Benamou-Brenier dynamic formulation, solved by proximal splitting.
``wgf.grid``, ``wgf.functionals``, ``wgf.fokker_planck``
    the one grid type of the package (uniform, cell-centred, 1-D or 2-D: integrals, Gaussian
    densities, cell masses), shared by every grid computation; Otto calculus on it (energies,
    first variations, Wasserstein gradients, dissipation) and three solvers of the
    Fokker-Planck equation (finite volumes, Langevin particles, exact OU).
``wgf.jko``, ``wgf.entropic_jko``
    the JKO scheme: exact Gaussian steps and a 1-D Lagrangian scheme; the entropic scheme on grids.
``wgf.mixtures``, ``wgf.data``, ``wgf.schedules``
    machinery for Part II: Gaussian mixtures with exact densities, scores, OU (VP) and heat (VE)
    marginals; the toy targets as mixtures; the DDPM/cosine/VP/VE schedules and the exact
    correspondence between a DDPM step and an Ornstein-Uhlenbeck time step.
``wgf.trajectory``, ``wgf.sampling``, ``wgf.nets``, ``wgf.train``, ``wgf.threads``,
``wgf.couplings``, ``wgf.zoo``
    model machinery: the path every sampler returns (prior at t=0, data at t=1), the one
    sampling kernel and the contract every generative model follows, time-conditioned
    MLPs and scalar potentials, one seeded training loop, the thread policy of the small
    networks, independent and minibatch-OT pairings, and the on-disk cache of trained models
    (``zoo.get(name, target)``, the target a dataset name, a mixture or your own points).
``wgf.diffusion``, ``wgf.score_matching``
    the gradient-flow samplers: DDPM, DDIM and the transport + Langevin split (chapter 6);
    Langevin and annealed Langevin dynamics, NCSN (chapter 7); all run exact mixture oracles or
    trained networks.
``wgf.flow_matching``, ``wgf.gaussian_flows``, ``wgf.energy_matching``
    the geodesic models: conditional flow matching with independent, minibatch-OT and
    rectified couplings, and its closed forms between Gaussians (affine marginal velocities and
    their flows) (chapter 8); Energy Matching, one scalar
    potential trained on the geodesic and sampled as a gradient flow (chapter 9).
``wgf.manifold``, ``wgf.curves``
    the models' paths as curves in (P2, W2) (chapter 10): exact VP, VE and I-CFM curves of a
    mixture with their velocity fields and lengths, Gaussian (Bures) metric speeds; flow maps,
    transport costs against the optimal cost, W2 matrices between marginals and their MDS picture.
``wgf.metrics``, ``wgf.components``, ``wgf.density_tests``, ``wgf.controls``, ``wgf.power``
    samples against the data: W2 as a robust ratio to the noise floor, paired comparisons with
    an exact oracle, a permutation two-sample test; per-component weights, means and
    covariances of mixtures; TV/KL against the exact density on a grid; the negative
    controls (samplers with a known defect) that every test must reject; and a model, its
    oracle and its controls judged by the same tests, or a sample against a whole exact curve.
``wgf.digits``, ``wgf.digit_metrics``
    beyond toys (chapter 11): the 8×8 handwritten digits as a target and an exact
    Gaussian-mixture surrogate of them; a digit classifier and the practitioner's metrics
    (class histogram, Fréchet distance, nearest-neighbour distances).
``wgf.rates``
    observed convergence orders (power-law fits with standard errors).
``wgf.plot``
    the book's figure style; every figure is also written to ``figures/``.
``wgf.rng``
    seeded random generators (no hidden global state).

Every submodule is importable as an attribute of the package, loaded on first use, so that
``import wgf`` stays cheap (torch is imported only by the modules that need it) and
``wgf.zoo.get(...)`` or ``wgf.ot.w2(...)`` work without a separate import.

Conventions that hold everywhere (the book's introduction and its *Design* page state them in
full): functions named ``w2*`` return W2, not its square; numerics run in numpy float64; bad
input raises ``ValueError`` or ``TypeError`` naming the argument.
"""

import importlib
import pkgutil

__version__ = "0.1.0"

#: The public submodules, found on disk (modules whose names start with ``_`` are private).
SUBMODULES = tuple(
    sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
)

__all__ = ["SUBMODULES", "__version__", *SUBMODULES]


def __getattr__(name: str):
    """Import the submodule ``wgf.<name>`` on first access (PEP 562)."""
    if name in SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(SUBMODULES))
