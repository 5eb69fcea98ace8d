"""Comparison with a reference hull: alignment, deviation, findings, coverage."""
