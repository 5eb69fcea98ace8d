"""The ROS 2 layer: thin rclpy nodes over the core.

This is the only package that imports ``rclpy``; ``import hullscan`` does not
import it. It needs the ROS 2 wheels (``pip install -e .[ros]``).
"""

from __future__ import annotations


def require_rclpy() -> None:
    """Fail with an install hint when the ROS 2 wheels are missing."""
    try:
        import rclpy  # noqa: F401
    except ImportError as err:
        from hullscan.errors import HullscanError

        raise HullscanError(
            "the ROS 2 layer needs rclpy and an RMW: pip install -e '.[ros]' "
            "(ros-rclpy, ros-rmw-fastrtps-cpp and the message wheels), or source a ROS 2 install"
        ) from err
