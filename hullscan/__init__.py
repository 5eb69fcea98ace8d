"""hullscan: find smuggling compartments on ship hulls from ROV/AUV sonar surveys.

The core is ROS-free: importing :mod:`hullscan` never imports ``rclpy``. Only
:mod:`hullscan.ros` talks to ROS 2, and it is imported on demand.
"""

from hullscan._version import __version__
from hullscan.errors import HullscanError

__all__ = ["HullscanError", "__version__"]
