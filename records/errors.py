"""Errors of the durable records, the same whichever database stands behind them.

The hierarchy::

    RecordsError                  a record could not be read or written
    ├── RecordExists              a record with that key exists already (a supporter's username)
    └── RecordsUnavailable        the database cannot do it now: locked past its busy timeout,
                                  unreachable, disk full or failing; a write was rolled back,
                                  and the same call may succeed later

A backend raises these and only these (its driver's own error is chained as ``__cause__``),
so no caller needs to know which database it talks to.
"""

from __future__ import annotations


class RecordsError(Exception):
    """Base of every error raised by the ``records`` package."""


class RecordExists(RecordsError):
    """A record with that key exists already; nothing was written."""


class RecordsUnavailable(RecordsError):
    """The database could not do it now (locked, unreachable, out of space); nothing was written."""
