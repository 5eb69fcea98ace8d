"""Errors raised by the hullscan core.

Every error names the file, topic or field at fault and what was expected.
Lower-level exceptions are chained with ``from`` so the root cause stays visible.
"""

from __future__ import annotations


class HullscanError(Exception):
    """Base class for every error hullscan raises on purpose."""


class ConfigError(HullscanError):
    """A configuration or scenario file is invalid (names the key and the expected value)."""


class BagError(HullscanError):
    """A bag cannot be opened, read or written."""


class BagTruncatedError(BagError):
    """A bag ends early or is damaged; messages before the damage were delivered."""


class MessageError(HullscanError):
    """A message is malformed (names topic, field and value)."""


class TransformError(HullscanError):
    """A transform is missing or cannot be interpolated."""


class NavigationError(HullscanError):
    """No usable navigation for the requested time."""


class MeshError(HullscanError):
    """A mesh file cannot be read or normalised."""


class AlignmentError(HullscanError):
    """A cloud could not be aligned with its reference."""


class OutputError(HullscanError):
    """An output folder or file cannot be used (names the path and what to do)."""


class PlyError(HullscanError):
    """A PLY file that cannot be read (the message names the file and what is wrong)."""


class BatchError(HullscanError):
    """A batch cannot start or go on: a survey list, a bag path or a Dask cluster at fault."""


class PlanError(HullscanError):
    """A survey plan cannot be made as asked (names the input at fault and what would work)."""


class CoverageFileError(HullscanError):
    """An earlier inspection's coverage.ply that cannot be read or used (names the file and why)."""
