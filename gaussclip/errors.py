"""The error family of gaussclip.

Every error is a :class:`ValueError` so that callers who catch ``ValueError`` keep working; the
subclasses say which kind of input was wrong. Messages name the argument, what was expected, what
was received and, where one exists, the fix.
"""


class GaussclipError(ValueError):
    """Base class of every error raised by gaussclip on bad input."""


class ShapeError(GaussclipError):
    """An array has the wrong number of dimensions, the wrong size, or no entries."""


class CovarianceError(GaussclipError):
    """A covariance is non-symmetric, indefinite or singular (non-finite entries are a
    :class:`DomainError`, as for every array)."""


class RankError(GaussclipError):
    """A rank (embedding dimension) or block size is out of range."""


class OptionError(GaussclipError):
    """An unknown loss or tilting, or weights outside their domain."""


class DomainError(GaussclipError):
    """A value outside its domain: NaN or inf entries, a number out of range (a temperature <= 0,
    a count < 1), or parameters for which the requested model or loss does not exist (e.g. a
    tilted density that cannot be normalized)."""


class ArgumentTypeError(GaussclipError, TypeError):
    """An argument of the wrong kind (for example a matrix where a Gaussian is expected)."""
