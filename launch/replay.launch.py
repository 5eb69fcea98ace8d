"""Replay a bag through the same nodes (the bag's /clock drives them).

    ros2 launch hullscan replay.launch.py bag:=/data/survey rate:=5 reference:=/data/hull.stl
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
    sim = {"use_sim_time": True}
    return LaunchDescription([
        DeclareLaunchArgument("bag", description="rosbag2 directory or .mcap/.db3 file"),
        DeclareLaunchArgument("rate", default_value="1.0"),
        DeclareLaunchArgument("reference", default_value="mirror"),
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "replay.yaml")),
        DeclareLaunchArgument("rviz", default_value="true"),
        Node(package="hullscan", executable="hullscan_mapper", name="hullscan_mapper", output="screen",
             parameters=[params, sim]),
        Node(package="hullscan", executable="hullscan_comparator", name="hullscan_comparator", output="screen",
             parameters=[params, sim, {"reference": LaunchConfiguration("reference")}]),
        Node(package="hullscan", executable="hullscan_camera", name="hullscan_camera", output="screen",
             parameters=[params, sim]),
        Node(package="hullscan", executable="hullscan_player", name="hullscan_player", output="screen",
             arguments=[LaunchConfiguration("bag"), "--rate", LaunchConfiguration("rate"), "--wait", "15"]),
        Node(package="rviz2", executable="rviz2", name="rviz2", condition=IfCondition(LaunchConfiguration("rviz")),
             arguments=["-d", os.path.join(share, "launch", "hullscan.rviz")], parameters=[sim]),
    ])
