"""Reconstruction: pings and poses to a hull point cloud (numba core).

The method, stage by stage (see :mod:`hullscan.recon.pipeline`):

1. georeferencing -- each ping's pose interpolated at transmit time, mounting from TF;
2. cleaning -- range/intensity gates, spike removal across and along the swath, grazing limit;
3. fusion -- sparse voxel hash map with free-space evidence near the surface;
4. drift correction -- submaps aligned by robust point-to-plane ICP, then re-fused;
5. extraction -- one-voxel-thick surface from local plane fits, with normals and confidence.
"""

from typing import Any

from hullscan.recon.config import DriftConfig, ReconConfig


def __getattr__(name: str) -> Any:
    # Lazy: importing the configuration (hullscan.config reads hullscan.recon.config) must not load
    # numba and the kernels; the reconstructor comes with its first use.
    if name in ("ReconResult", "Reconstructor", "reconstruct_bag"):
        from hullscan.recon import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)


__all__ = ["DriftConfig", "ReconConfig", "ReconResult", "Reconstructor", "reconstruct_bag"]
