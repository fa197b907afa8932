"""Shared pytest configuration: headless matplotlib, a deterministic hypothesis profile."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

from hypothesis import HealthCheck, settings

# Deterministic (derandomised) so that CI is reproducible; no deadline because exact OT on
# the larger examples can take a few milliseconds on a busy 2-core machine.
settings.register_profile(
    "wgf",
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("wgf")

# The package's thread policy (wgf.threads): the book's networks are small, so one intra-op
# thread is as fast as several on an idle machine and does not collapse when another process
# competes for the cores.  The unit tests run everything under it.
import torch  # noqa: E402

torch.set_num_threads(1)
