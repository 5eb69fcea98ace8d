"""Reconstruction: pings and poses to a hull point cloud (numba core)."""
