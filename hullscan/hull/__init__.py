"""Hull model shared by the simulator and the comparator: mesh, loader, regions."""

from hullscan.hull.io import load_mesh, save_mesh
from hullscan.hull.mesh import REGION_INDEX, REGIONS, HullMesh, merge_meshes, region_id
from hullscan.hull.regions import classify_regions

__all__ = ["REGIONS", "REGION_INDEX", "HullMesh", "classify_regions", "load_mesh", "merge_meshes",
           "region_id", "save_mesh"]
