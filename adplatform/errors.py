"""The one error type that reaches users as a single line instead of a stack trace."""


class UserError(Exception):
    """Something the user can fix; the message says what to do."""
