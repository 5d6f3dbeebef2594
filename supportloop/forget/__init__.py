"""Erasing a customer's data from the loop's stores (`supportloop forget`)."""

from supportloop.forget.run import ArgillaSource, ForgetError, ForgetRequest, run_forget

__all__ = ["ArgillaSource", "ForgetError", "ForgetRequest", "run_forget"]
