"""One exception hierarchy and the exit codes it maps to.

Library code raises these and never prints or exits; `aictl/cli/_handle.py` is the only
place that turns them into a message on stderr and an exit code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Documented exit codes (docs/cli.md)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    SPEC = 3
    TOPOLOGY = 4
    RENDER = 5
    PROVISION = 6
    REMOTE = 7
    ACCEPTANCE_FAILED = 8
    ACCEPTANCE_ERROR = 9
    PREFLIGHT_FAILED = 10
    SCHEDULER = 11
    INTERRUPTED = 130


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input: where it is, what it is, and how to fix it."""

    message: str
    field: str = ""
    file: str = ""
    line: int | None = None
    hint: str = ""

    def location(self) -> str:
        """`file:line` (or whichever parts are known)."""
        if self.file and self.line is not None:
            return f"{self.file}:{self.line}"
        return self.file


class AictlError(Exception):
    """Base class: a user-facing failure with an exit code and optional hint."""

    exit_code: ExitCode = ExitCode.INTERNAL
    label: str = "ERROR"

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        problems: list[Problem] | None = None,
        field: str = "",
    ):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.problems: list[Problem] = list(problems or [])
        # the spec field the error is about, so the CLI can point at its file and line
        self.field = field


class UsageError(AictlError):
    """Bad command-line usage that click could not catch (conflicting options and so on)."""

    exit_code = ExitCode.USAGE
    label = "USAGE"


class SpecError(AictlError):
    """The cluster spec is malformed or inconsistent; `problems` lists every issue found."""

    exit_code = ExitCode.SPEC
    label = "SPEC"


class TopologyError(AictlError):
    """The spec is valid but no fabric can be built from it (ports do not fit, ...)."""

    exit_code = ExitCode.TOPOLOGY
    label = "TOPOLOGY"


class RenderError(AictlError):
    """The configs cannot be rendered (or fail a rule that protects the devices)."""

    exit_code = ExitCode.RENDER
    label = "RENDER"


class RenderDriftError(RenderError):
    """`aictl render --check`: the tree on disk differs from what the spec renders."""

    label = "DRIFT"


class ProvisionError(AictlError):
    """Provisioning ran, and hosts failed or were unreachable (named in the message)."""

    exit_code = ExitCode.PROVISION
    label = "PROVISION"


class RemoteError(AictlError):
    """Hosts failed or could not be reached (the results are printed first)."""

    exit_code = ExitCode.REMOTE
    label = "REMOTE"


class ToolMissingError(AictlError):
    """An external tool a command needs is not installed."""

    exit_code = ExitCode.INTERNAL
    label = "TOOL"


class VerifyError(TopologyError):
    """The discovered fabric differs from the plan (cabling, rates or routing)."""

    label = "VERIFY"


class PreflightError(AictlError):
    """Preflight ran and some node failed a check (after the matrix is printed)."""

    exit_code = ExitCode.PREFLIGHT_FAILED
    label = "CHECK"


class AcceptanceFailedError(AictlError):
    """Acceptance ran and a criterion failed (raised after everything is saved)."""

    exit_code = ExitCode.ACCEPTANCE_FAILED
    label = "ACCEPT"


class SchedulerError(AictlError):
    """The scheduler refused or failed an action, or the circuit breaker stopped a drain."""

    exit_code = ExitCode.SCHEDULER
    label = "SCHEDULER"


class RunError(AictlError):
    """Acceptance cannot run (no such run to resume, a broken run directory, no nodes)."""

    exit_code = ExitCode.ACCEPTANCE_ERROR
    label = "ACCEPT"


class ParseFailedError(AictlError):
    """`aictl accept parse`: the output was read, and it is the output of a failed run."""

    exit_code = ExitCode.ACCEPTANCE_ERROR
    label = "PARSE"


class InterruptedRunError(AictlError):
    """Ctrl-C during a run: finished units are saved."""

    exit_code = ExitCode.INTERRUPTED
    label = "INTERRUPTED"


class StaleBuildError(AictlError):
    """A stage's input in the build directory was made from another spec (or is missing)."""

    exit_code = ExitCode.USAGE
    label = "STALE"


class TargetError(AictlError):
    """A target description (how to reach the nodes) is missing or malformed."""

    exit_code = ExitCode.USAGE
    label = "TARGET"


class LabError(AictlError):
    """The lab cannot be brought up, changed or found."""

    exit_code = ExitCode.INTERNAL
    label = "LAB"


class WriteError(AictlError):
    """A file of the build directory cannot be written safely: a symlink in the way, a path
    leaving the directory, a full disk, a read-only file system, no permission, a name too
    long. The exit code is the stage's (render 5, plan 4, ...): the stage failed, not aictl."""

    label = "WRITE"

    def __init__(self, message: str, *, exit_code: ExitCode, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code


class BuildLockedError(AictlError):
    """Another aictl command holds the build directory's lock (it is named in the message)."""

    label = "LOCKED"

    def __init__(self, message: str, *, exit_code: ExitCode, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code


class KnownHostsError(AictlError):
    """The known_hosts file cannot be used (a malformed line, not UTF-8, not readable)."""

    exit_code = ExitCode.REMOTE
    label = "REMOTE"
