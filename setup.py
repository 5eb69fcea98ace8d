"""setup.py: package discovery and the files colcon's ament_python build installs.

pip reads pyproject.toml for metadata and dependencies. The simulator lives in
``sim/`` and is installed as the package ``hullscan_sim``. colcon needs the
ament index marker, package.xml, launch, RViz and params files under share/hullscan.
"""

import sys
from glob import glob

from setuptools import find_packages, setup

packages = find_packages(include=["hullscan", "hullscan.*"])
packages += ["hullscan_sim"] + [f"hullscan_sim.{p}" for p in find_packages("sim")]

# colcon (setup.py install/develop) must put the node executables in lib/hullscan, where
# `ros2 run` and launch_ros look; pip's PEP 517 builds never run these commands.
options = {}
if {"install", "develop"} & set(sys.argv):
    options = {"develop": {"script_dir": "$base/lib/hullscan"},
               "install": {"install_scripts": "$base/lib/hullscan"}}

setup(
    license="Apache-2.0",  # these two here, not in pyproject.toml: see the comment there
    python_requires=">=3.11",
    options=options,
    packages=packages,
    package_dir={"hullscan_sim": "sim"},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/hullscan"]),
        ("share/hullscan", ["package.xml"]),
        ("share/hullscan/launch", glob("launch/*.launch.py") + glob("launch/*.rviz")),
        ("share/hullscan/config", glob("config/*.yaml")),
    ],
)
