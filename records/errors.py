"""Errors of the durable records, the same whichever database stands behind them.

The hierarchy::

    RecordsError                  a record could not be read or written
    ├── RecordExists              a record with that key exists already (a supporter's username)
    ├── RecordsUnavailable        the database cannot do it now: locked past its busy timeout,
    │                             unreachable, disk full or failing; a write was rolled back,
    │                             and the same call may succeed later
    └── SchemaMismatch            the database's schema version is not this code's (older:
                                  run ``chatd migrate``; newer: run a newer chatd)

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


class SchemaMismatch(RecordsError):
    """The database's schema version is not the one this code speaks; nothing was written.

    The message is one line that says what to do (``chatd migrate``, or a newer chatd)."""
