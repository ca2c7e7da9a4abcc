"""The one error type for bad geometry, so callers (CLI, app) can show its message without a traceback."""


class ShapeError(ValueError):
    """A polygon or shape specification that cannot be used; the message names the problem and what is
    allowed."""
