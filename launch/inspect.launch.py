"""Live inspection from the drone's topics: mapper, comparator, camera evidence and RViz.

    ros2 launch hullscan inspect.launch.py reference:=/data/hull.stl rviz:=true
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription


def generate_launch_description():
    share = get_package_share_directory("hullscan")
    params = LaunchConfiguration("params_file")
    overrides = {"use_sim_time": LaunchConfiguration("use_sim_time")}
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "hullscan.yaml")),
        DeclareLaunchArgument("reference", default_value="mirror", description="reference hull mesh or 'mirror'"),
        DeclareLaunchArgument("use_sim_time", default_value="false"),
        DeclareLaunchArgument("rviz", default_value="true"),
        Node(package="hullscan", executable="hullscan_mapper", name="hullscan_mapper", output="screen",
             parameters=[params, overrides]),
        Node(package="hullscan", executable="hullscan_comparator", name="hullscan_comparator", output="screen",
             parameters=[params, overrides, {"reference": LaunchConfiguration("reference")}]),
        Node(package="hullscan", executable="hullscan_camera", name="hullscan_camera", output="screen",
             parameters=[params, overrides]),
        Node(package="rviz2", executable="rviz2", name="rviz2", condition=IfCondition(LaunchConfiguration("rviz")),
             arguments=["-d", os.path.join(share, "launch", "hullscan.rviz")], parameters=[overrides]),
    ])
