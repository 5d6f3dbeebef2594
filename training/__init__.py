"""Training stage: TRL recipes, trainers, launching on one CPU to many GPUs, adapters.

Models are loaded and provisioned by `supportloop.models`; this package only trains them.
"""
