"""Eval reports for reviewers: a W&B run per eval and a self-contained HTML file."""
