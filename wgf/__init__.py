"""wgf: gradient flows and geodesics in Wasserstein space.

The executable companion to Yao & Zhang (2026), *The Geometry Behind Diffusion and Flow
Matching*.  The package is a set of small, flat modules, one concept each, imported by the
chapters of the book in ``book/``:

``wgf.ot``
    the quadratic Wasserstein distance: closed forms (1-D quantiles, Gaussians), exact and
    entropic discrete optimal transport through POT, and the empirical noise floor.
``wgf.plot``
    the book's figure style; every figure is also written to ``figures/``.
``wgf.rng``
    seeded random generators (no hidden global state).

Conventions that hold everywhere (see DESIGN.md): functions named ``w2*`` return W2, not its
square; numerics run in numpy float64; bad input raises ``ValueError`` or ``TypeError``
naming the argument.
"""

__version__ = "0.1.0"
