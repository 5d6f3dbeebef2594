"""The one error type the CLI shows as a one-line message instead of a traceback."""


class UserError(RuntimeError):
    """A problem the user can fix (bad config, missing input, unknown model); message is final.

    Stages raise subclasses of it; `supportloop.app.user_errors` prints the message and exits 2.
    """
