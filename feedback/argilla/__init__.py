"""Argilla: the embedded server stack, dataset settings, push, pull, agreement, webhooks."""
