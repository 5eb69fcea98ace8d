"""rosbag2 input and output (MCAP and sqlite3), through ``rosbags``."""

from hullscan.bag.reader import BagItem, BagReader, Role, TopicPlan, plan_topics, read_all
from hullscan.bag.writer import BagWriter

__all__ = ["BagItem", "BagReader", "BagWriter", "Role", "TopicPlan", "plan_topics", "read_all"]
