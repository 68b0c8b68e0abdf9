"""Training: the TICNN tricks, ensembles, evaluation under noise and load, and checkpoints.

Heavy parts load lazily; the checkpoint API is ``edge_deploy.train.checkpoint``.
"""

from edge_deploy.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint

__all__ = ["Checkpoint", "load_checkpoint", "save_checkpoint"]
