"""Sub-commands of the ``hullscan`` CLI; each module has ``register(subparsers)``."""
