"""The base of every expected failure: bad input or state, reported without a traceback."""


class MlopsError(Exception):
    """Something the user can fix; the message says what. The CLI exits with code 1."""
