"""hullscan_sim: simulated hull surveys written as rosbag2 bags, with ground truth.

Installed from the ``sim/`` folder as the package ``hullscan_sim``.
"""
