"""Evaluation stage: suites, scorers, paired statistics, the promotion gate and reports."""
