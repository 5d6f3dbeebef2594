"""Training stage: model provisioning and loading, candidate generation, TRL recipes, adapters."""
