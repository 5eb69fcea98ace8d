"""A simulated drone: simulate a survey to a bag, then play it into the nodes.

    ros2 launch hullscan simulate.launch.py scenario:=sim/scenarios/demo.yaml rate:=5
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, ExecuteProcess, RegisterEventHandler
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node

from launch import LaunchDescription


def truth_file(name: str) -> PathJoinSubstitution:
    """A file of the simulator's ground truth (written beside the bag)."""
    return PathJoinSubstitution([LaunchConfiguration("out"), "bag.truth", name])


def generate_launch_description():
    share = get_package_share_directory("hullscan")
    params = os.path.join(share, "config", "replay.yaml")
    sim = {"use_sim_time": True}
    bag = PathJoinSubstitution([LaunchConfiguration("out"), "bag"])
    simulate = ExecuteProcess(cmd=["hullscan", "simulate", "--scenario", LaunchConfiguration("scenario"),
                                   "--out", bag], output="screen")
    play = Node(package="hullscan", executable="hullscan_player", name="hullscan_player", output="screen",
                arguments=[bag, "--rate", LaunchConfiguration("rate"), "--wait", "15"])
    return LaunchDescription([
        DeclareLaunchArgument("scenario", description="simulator scenario YAML"),
        DeclareLaunchArgument("out", default_value="/tmp/hullscan/sim"),
        DeclareLaunchArgument("rate", default_value="1.0"),
        DeclareLaunchArgument("rviz", default_value="true"),
        Node(package="hullscan", executable="hullscan_mapper", name="hullscan_mapper", output="screen",
             parameters=[params, sim]),
        Node(package="hullscan", executable="hullscan_comparator", name="hullscan_comparator", output="screen",
             parameters=[params, sim, {"reference": truth_file("reference.ply"),
                                       "hull_to_nav_file": truth_file("truth.json")}]),
        Node(package="hullscan", executable="hullscan_camera", name="hullscan_camera", output="screen",
             parameters=[params, sim, {"reference": truth_file("reference.ply")}]),
        simulate,
        RegisterEventHandler(OnProcessExit(target_action=simulate, on_exit=[play])),
        Node(package="rviz2", executable="rviz2", name="rviz2", condition=IfCondition(LaunchConfiguration("rviz")),
             arguments=["-d", os.path.join(share, "launch", "hullscan.rviz")], parameters=[sim]),
    ])
