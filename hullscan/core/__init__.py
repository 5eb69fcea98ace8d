"""The numerical core: numpy, scipy and numba only, no other part of hullscan.

- :mod:`~hullscan.core.grid`: voxel keys, their groups, voxel k-nearest neighbours;
- :mod:`~hullscan.core.voxelmap`: the sparse voxel map (fusion, free space, surface extraction);
- :mod:`~hullscan.core.visits`: when each voxel was first and last seen (passes over a place);
- :mod:`~hullscan.core.georef`: detection, cleaning and georeferencing of ping blocks;
- :mod:`~hullscan.core.nav`: pose interpolation with gap and jump checks;
- :mod:`~hullscan.core.distance`: signed distance from a surface;
- :mod:`~hullscan.core.interp`: smooth blending of corrections between anchors;
- :mod:`~hullscan.core.robust`: robust weights;
- :mod:`~hullscan.core.display`: deterministic thinning and packing of clouds for viewers;
- :mod:`~hullscan.core.colour`: the one deviation colour map.

Each numba kernel is private (``_name``) behind a public wrapper that checks and documents the
shapes, and has a plain numpy reference (``_name_numpy`` / ``name_reference``) that a test
compares it with (tests/hullscan/core/).
"""
