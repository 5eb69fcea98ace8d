"""hullscan's version, and what a run's figures were computed with."""

from __future__ import annotations

import platform
from importlib import metadata

__version__ = "0.1.0"

# The numerical stack a run's numbers depend on: the same code and inputs gave other bags and other
# false alarms on newer numpy/scipy/open3d (docs/evaluation.md, stop 45), so every output says which.
NUMERIC_PACKAGES = ("numpy", "scipy", "numba", "open3d", "rosbags", "pydantic")


def package_versions() -> dict[str, str | None]:
    """The numerical packages' versions (None: not installed)."""
    out: dict[str, str | None] = {}
    for name in NUMERIC_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def software() -> dict[str, object]:
    """hullscan's name and version, Python's, and the numerical packages' (:func:`package_versions`)."""
    return {"name": "hullscan", "version": __version__, "python": platform.python_version(),
            "packages": package_versions()}
