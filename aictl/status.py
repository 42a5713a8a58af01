"""One status vocabulary for everything aictl judges: checks, findings, units and criteria.

`ok` passed, `warn` is shown but does not fail, `fail` failed its rule, `error` could not be
measured (the node did not answer, the tool crashed), `skip` did not apply or did not run.
Decisions branch on these values, never on the wording of a message.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """The outcome of one check, finding, benchmark unit or criterion."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"

    @property
    def failed(self) -> bool:
        """Fails whatever it is part of (a node's preflight, a run's verdict)."""
        return self in (Status.FAIL, Status.ERROR)

    @classmethod
    def read(cls, value: object) -> Status:
        """A stored status, also in the spellings of files written before this vocabulary
        (`failed`, `skipped`, a criterion's `pass` true/false/null)."""
        legacy: dict[object, Status] = {
            "failed": cls.FAIL,
            "skipped": cls.SKIP,
            True: cls.OK,
            False: cls.FAIL,
            None: cls.SKIP,
        }
        if isinstance(value, str) and value in cls._value2member_map_:
            return cls(value)
        if value in legacy:
            return legacy[value]
        raise ValueError(f"not a status: {value!r}")
