"""The one error type the CLI shows as a one-line message instead of a traceback."""


class UserError(RuntimeError):
    """A problem the user can fix (bad config, missing input, unknown model); message is final.

    Stages raise subclasses of it; `supportloop.app.user_errors` prints the message and exits 2.
    """


def one_line(exc: BaseException) -> str:
    """`Type: first line of the message`, for a failure reported beside a result that stands."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
