"""The one exception type that means "the user asked for something we cannot do".

The command line turns it into a single line on stderr and exit status 2; any
other exception is a bug and keeps its traceback.
"""


class AblateError(Exception):
    """A user-facing error: what is wrong, where, and what to do about it."""
