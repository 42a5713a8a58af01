"""nccl-tests output of every era, as data, with the failure classified.

Text: launcher prefixes (`srun --label` ` 0: `, `mpirun --tag-output` `[1,0]<stdout>:`) are
stripped; NCCL INFO lines are skipped wherever they are (even inside the table: a soak log is
mostly INFO, so they are dropped before any pattern runs), NCCL WARN lines kept as warnings.
Columns come from the table header: 2.13+ has `root` and `#wrong`, pre-2.13 an `error`
column, `-I 1` four per-iteration columns per half, `-S 1` a trailing timestamp. Rows are
split on whitespace and read from the end, so a blank redop (old alltoall) or e-notation
times do not shift them; a row whose values are not numbers was cut short by a failure
(nccl-tests prints `<host>: Test NCCL failure ...` on the row's own line). JSON (`-J`): the
same shape; its `env` block is redacted here, before anything is stored.

Failure kinds, in the order they are decided: correctness (NaN/inf in any column, `#wrong` >
0, out-of-bounds FAILED); when the run broke (a failure line, an abort, a cut row or no
footer), the cause NCCL's words name: network (completion errors, a peer gone), gpu (CUDA
errors), system (/dev/shm, locked memory, no device) — with the host that said it; timeout
(nccl-tests' own `-T`); launch (the launcher or the argument parser refused: no nccl-tests
header); startup (a header but no table); aborted (a rank died mid-table: Open MPI 4/5 or
Slurm say so); timeout (the table stops without a footer); performance (only when an
expectation is given: peak busbw below it). Warnings of a run that finished are kept, never
a failure.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from aictl.facts.model import Failure, FailureKind, Parsed
from aictl.facts.text import SIM_MARK
from aictl.status import Status

_PREFIX = re.compile(r"^(?:\s*\d+: |\[\d+,\d+\]<std(?:out|err)>:\s?|\[\d+\] )")
_HEADER = re.compile(r"^#\s+size\s+count\s+type\s+redop(\s+root)?\s+(time|cputime)")
_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S.*)$")
_RANK = re.compile(
    r"^#\s+Rank\s+(\d+)\s+(?:Group\s+\d+\s+)?Pid\s+(\d+)\s+on\s+(\S+)\s+device\s+(\d+)"
)
_PROG = re.compile(
    r"\b(all_reduce|all_gather|alltoallv|alltoall|broadcast|gather|scatter|reduce_scatter|"
    r"reduce|sendrecv|hypercube)_perf\b"
)
# nccl-tests' own failure lines: `<host>: Test NCCL failure common.cu:N '<error> / <last>'`,
# `<host>: Test CUDA failure ...`, `<host>: Test timeout (Ns) ...`, ` .. <host> pid N: Test
# failure ...` (the host may be glued to a row the failure cut short)
_TEST_FAIL = re.compile(
    r"(?:^|-?\d)\s*(?:\.\. )?([A-Za-z0-9][\w.-]*)(?: pid \d+)?: "
    r"(Test (?:NCCL|CUDA|HIP) failure|Test timeout|Test failure)\b(.*)$"
)
_STARTUP = re.compile(r"Test (CUDA|NCCL|HIP) failure|Test failure|NCCL error|Cuda failure")
# rccl-tests says who it is in a line of its own (its text output is nccl-tests')
_RCCL_VERSION = re.compile(r"^rccl-tests: Version (\S+)")
_LAUNCH = re.compile(
    r"invalid size specified|invalid sizes for|Invalid number of GPUs|requested more processes|"
    r"(mpirun|prterun) (was unable|detected|noticed)|Primary job\s+terminated|srun: error|"
    r"command not found|No such file or directory|(ORTE|PRTE) (was unable|has lost)|"
    r"MPI_ABORT was invoked|Host key verification failed|Permission denied|ssh: connect|"
    r"requires NCCL >=|Incompatible NCCL versions|is not supported by this test"
)
# a rank that died mid-run, as Open MPI 4 (mpirun), Open MPI 5 (prterun) and Slurm say it
_ABORT = re.compile(
    r"(?:mpirun|prterun) noticed that process rank \d+ with PID \d+ on node (\S+?)\.? exited|"
    r"srun: error: ([\w.-]+): tasks? [\d,-]+: |"
    r"(?:mpirun|prterun) detected that one or more processes exited|"
    r"MPI_ABORT was invoked|Primary job\s+terminated|(?:ORTE|PRTE) has lost communication"
)
# `<host>:<pid>:<tid> [<dev>] [<file>:<line>] NCCL WARN <text>`
_WARN = re.compile(
    r"^(?:\[[\d:. -]+\] )?(?:([\w.-]+):\d+:\d+ \[\d+\] )?(?:\S+:\d+ )?NCCL WARN (.*)$"
)
# what an NCCL warning or error says, as the kind of failure it is (first match wins)
_CAUSES: tuple[tuple[FailureKind | None, re.Pattern[str]], ...] = (
    (
        FailureKind.NETWORK,
        re.compile(
            r"NET/\w+ ?: .*(completion|error|failed|closed|reset|refused|timeout)|"
            r"Got completion|IBV_WC_|ibv_poll_cq|remote process exited or there was a network "
            r"error|Connection (closed by remote peer|reset by peer|refused|timed out)|"
            r"socketProgress|Net : |NET/IB .*port .* (DOWN|not active)|bootstrap.*(timeout|failed)",
            re.I,
        ),
    ),
    # a usage error (a GPU index that does not exist, a bad argument): no fault to name
    (None, re.compile(r"invalid device ordinal|invalid usage|invalid argument", re.I)),
    (
        FailureKind.GPU,
        re.compile(
            r"Test CUDA failure|Cuda failure|unhandled cuda error|CUDA error|"
            r"Test HIP failure|hipError\w*|HIP error|"
            r"illegal (memory access|address|instruction)|uncorrectable ECC|Xid|"
            r"device(\(s\))? is/are busy|no CUDA-capable device|GPU has fallen off",
            re.I,
        ),
    ),
    (
        FailureKind.SYSTEM,
        re.compile(
            r"unhandled system error|/dev/shm|No space left on device|ibv_reg_mr|"
            r"Cannot allocate memory|memlock|No device found|no socket interface|"
            r"Too many open files|posix_fallocate|Operation not permitted",
            re.I,
        ),
    ),
)
_KEEP_ENV = ("NCCL_", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "UCX_TLS", "UCX_NET_DEVICES")
_CLOCK = re.compile(r"^\d\d:\d\d:\d\d$")


def _num(tok: str) -> float | None:
    """A number of the table; NaN and infinities (a broken run) read as no number."""
    try:
        v = float(tok)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _is_int(tok: str) -> bool:
    return tok.lstrip("-").isdigit()


@dataclass(frozen=True, slots=True)
class Half:
    """One half of a row: out-of-place or in-place."""

    time_us: float | None
    algbw_gbps: float | None
    busbw_gbps: float | None
    wrong: int | None
    # pre-2.13 tables print an error column instead of #wrong
    error: float | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """One message size."""

    size_bytes: int
    count: int
    type: str
    redop: str
    root: int | None
    out_of_place: Half
    in_place: Half

    @property
    def busbw_gbps(self) -> float | None:
        """The better half's bus bandwidth."""
        vals = [h.busbw_gbps for h in (self.out_of_place, self.in_place) if h.busbw_gbps]
        return max(vals) if vals else None

    @property
    def wrong(self) -> int:
        return (self.out_of_place.wrong or 0) + (self.in_place.wrong or 0)


@dataclass(frozen=True, slots=True)
class Device:
    """A rank and the GPU it ran on."""

    rank: int | None
    pid: int | None
    host: str | None
    device: int | None


@dataclass(frozen=True, slots=True)
class OutOfBounds:
    count: int
    ok: bool


@dataclass(frozen=True, kw_only=True)
class NcclResult(Parsed):
    """One nccl-tests run."""

    collective: str | None = None
    version: str | None = None
    ranks: int | None = None
    devices: tuple[Device, ...] = ()
    rows: tuple[Row, ...] = ()
    peak_busbw_gbps: float | None = None
    avg_busbw_gbps: float | None = None
    out_of_bounds: OutOfBounds | None = None
    params: dict[str, Any] = field(default_factory=dict)
    env: tuple[str, ...] = ()
    nccl_version: str | None = None
    # the sizes whose row a failure cut short, and NCCL's WARN lines (first of each text)
    failed_at: tuple[int, ...] = ()
    warnings: tuple[str, ...] = ()
    # the other runs of a log that holds several back to back
    also: tuple[NcclResult, ...] = ()

    def at(self, size: int) -> float | None:
        """The best bus bandwidth measured at `size` bytes (None when that row is absent)."""
        vals = [b for r in self.rows if r.size_bytes == size and (b := r.busbw_gbps)]
        return max(vals) if vals else None


def _floats(values: list[str]) -> list[float | None] | None:
    """The value columns as floats (`N/A` as None, NaN and inf kept as they are); None when a
    token is not a number at all (the row was cut, or a message is printed on its line)."""
    out: list[float | None] = []
    for v in values:
        if v == "N/A":
            out.append(None)
            continue
        try:
            out.append(float(v))
        except ValueError:
            return None
    return out


def _fin(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def _half(vals: list[float | None], old: bool) -> Half:
    t, alg, bus, wrong = vals[:4]
    w = _fin(wrong)
    return Half(
        _fin(t),
        _fin(alg),
        _fin(bus),
        None if old or w is None else int(w),
        w if old else None,
    )


@dataclass(slots=True)
class _Layout:
    """The value columns the table header announced: 4 per half (time algbw busbw #wrong),
    8 with per-iteration timing (-I 1); pre-2.13 tables print `error` for `#wrong` and no
    root; `-S 1` appends a timestamp (`YYYY-mm-dd HH:MM:SS`, two tokens)."""

    per_half: int = 4
    old: bool = False
    timestamp: bool = False
    prefix: int = 3  # the columns between count and the first time: type redop [root]


def _layout(header: str) -> _Layout:
    cols = header.lstrip("#").split()
    lead = next((i for i, c in enumerate(cols) if c in ("time", "cputime")), 4)
    vals = cols[lead:]
    stamp = bool(vals) and vals[-1] == "timestamp"
    if stamp:
        vals = vals[:-1]
    old = "root" not in cols[:lead] and "error" in vals
    return _Layout(max(4, len(vals) // 2), old, stamp, max(1, lead - 2))


@dataclass(slots=True)
class _Scan:
    """What a pass over the text found."""

    version: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    devices: list[Device] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    oob: OutOfBounds | None = None
    avg: float | None = None
    header: bool = False
    footer: bool = False
    layout: _Layout = field(default_factory=_Layout)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (host, line)
    aborts: list[tuple[str, str]] = field(default_factory=list)
    warnings: dict[str, str] = field(default_factory=dict)  # text -> host
    broken: list[int] = field(default_factory=list)  # sizes whose row holds NaN or inf
    cut: list[int] = field(default_factory=list)  # sizes whose row a failure cut short
    nccl_library: int | None = None
    last: str = ""
    collective: str | None = None
    next_collective: str | None = None  # named after this run's footer: the next run's
    rccl: bool = False  # rccl-tests printed it (its version line)


def _row(scan: _Scan, s: str, partial: bool = False) -> bool:
    """A result row (or one a failure cut short); False when `s` is no row at all.
    `partial`: the text ends inside this line (a cut at a byte), so it is cut short."""
    m = _ROW.match(s)
    if m is None:
        return False
    size, count, rest = int(m.group(1)), int(m.group(2)), m.group(3)
    tok = rest.split()
    lay = scan.layout
    tail = 2 if lay.timestamp and len(tok) >= 2 and _CLOCK.match(tok[-1]) else 0
    body = tok[: len(tok) - tail] if tail else tok
    want = 2 * lay.per_half
    values = body[-want:] if len(body) >= want else []
    lead = body[: len(body) - want]
    # type, redop (blank in old alltoall tables) and, 2.13 on, an integer root
    fits = len(lead) in (lay.prefix, lay.prefix - 1) and (
        lay.old or (bool(lead) and _is_int(lead[-1]))
    )
    nums = _floats(values) if fits and not partial else None
    if nums is None:
        # the row stops short: a failure printed on its line, or the next line, or nothing
        scan.cut.append(size)
        if (f := _TEST_FAIL.search(s)) is not None:
            scan.failures.append((f.group(1), f"{f.group(2)}{f.group(3)}".strip()))
        return True
    if not all(v is None or math.isfinite(v) for v in nums):
        scan.broken.append(size)
    h = lay.per_half
    scan.rows.append(
        Row(
            size_bytes=size,
            count=count,
            type=lead[0] if lead else "",
            redop=(lead[1] if len(lead) >= 3 or (lay.old and len(lead) >= 2) else ""),
            root=int(lead[-1]) if not lay.old and len(lead) >= 2 and _is_int(lead[-1]) else None,
            out_of_place=_half(nums[:h], lay.old),
            in_place=_half(nums[h:], lay.old),
        )
    )
    return True


def _comment(scan: _Scan, s: str) -> bool:
    """A `#` line of the header or footer; False when it is none of them."""
    if m := re.match(r"^# nccl-tests version (\S+)(?:.*nccl-library=(\d+))?", s):
        scan.version = m.group(1)
        scan.nccl_library = int(m.group(2)) if m.group(2) else None
    elif s.startswith("# nThread"):
        scan.header = True
        for k, v in re.findall(r"(\w+(?: \w+)?):? (\d+)", s[1:]):
            scan.params[k.replace(" ", "_")] = int(v)
    elif s.startswith("# Collective test starting"):
        scan.header = True
        if (m := _PROG.search(s)) is not None:
            scan.collective = m.group(1)
    elif s.startswith("# Using devices"):
        scan.header = True
    elif m := re.match(r"^# Reducing maxBytes to (\d+)", s):
        # nccl-tests cut the size range to what the GPUs' memory allows: say what ran
        scan.params["maxBytes"] = int(m.group(1))
    elif m := _RANK.match(s):
        scan.devices.append(Device(int(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4))))
    elif _HEADER.match(s):
        scan.header = True
        scan.layout = _layout(s)
    elif m := re.match(r"^# Out of bounds values\s*:\s*(\d+)\s*(OK|FAILED)?", s):
        scan.footer = True
        scan.oob = OutOfBounds(int(m.group(1)), m.group(2) != "FAILED")
    elif m := re.match(r"^# Avg bus bandwidth\s*:\s*(\S+)\s*(OK|FAILED)?", s):
        scan.footer = True
        scan.avg = _num(m.group(1))
        if m.group(2) == "FAILED":
            scan.failures.append(("", f"avg busbw {m.group(1)} below NCCL_TESTS_MIN_BW"))
    elif m := re.match(r"^# error: (.+)$", s):
        scan.warnings.setdefault(m.group(1).strip(), "")
    else:
        return s.startswith("#")
    return True


_START = ("# nccl-tests version", "# Collective test starting", "# nThread")


def _scan(text: str) -> list[_Scan]:
    """One scan per run: logs that hold several runs back to back (a script looping over
    the binaries) start a new run at the next header once a run has had its table."""
    scan = _Scan()
    runs = [scan]
    lines = text.splitlines()
    # a text that stops inside its last line was cut at a byte: that line is not whole
    cut_at = len(lines) - 1 if text and text[-1] not in "\n\r" else -1
    for i, raw in enumerate(lines):
        if "NCCL INFO" in raw:  # the bulk of a NCCL_DEBUG=INFO log: nothing to read
            continue
        ln = _PREFIX.sub("", raw, count=1) if raw[:1] in " [0123456789" else raw
        s = ln.strip()
        if not s or s.startswith(SIM_MARK):
            continue
        if "NCCL WARN" in s:
            if len(scan.warnings) < 50:
                w = _WARN.match(s)
                said = s.split("NCCL WARN", 1)[1].strip()
                scan.warnings.setdefault(said, w.group(1) or "" if w else "")
            continue
        if "NCCL version " in s and s[0] != "#":
            continue
        if (rv := _RCCL_VERSION.match(s)) is not None:
            scan.rccl, scan.version = True, rv.group(1)
            continue
        if s.startswith(_START) and (scan.rows or scan.footer or scan.cut):
            nxt = _Scan(collective=scan.next_collective)
            scan = nxt
            runs.append(scan)
        scan.last = s
        if s[0] == "#":
            _comment(scan, s)
        elif s[0].isdigit() and _row(scan, s, i == cut_at):
            pass
        elif (f := _TEST_FAIL.search(s)) is not None:
            scan.failures.append((f.group(1), f"{f.group(2)}{f.group(3)}".strip()))
        elif (a := _ABORT.search(s)) is not None:
            scan.aborts.append((a.group(1) or a.group(2) or "", s))
        elif _STARTUP.search(s) or _LAUNCH.search(s):
            scan.failures.append(("", s))
        elif (m := _PROG.search(s)) is not None:  # a command line, a banner between runs
            if scan.footer:
                scan.next_collective = m.group(1)
            elif scan.collective is None:
                scan.collective = m.group(1)
    return runs


def _done(kind: FailureKind | None, msg: str, **kw: Any) -> NcclResult:
    failure = Failure(kind, msg) if kind is not None else None
    return NcclResult(
        tool="nccl", status=Status.FAIL if failure else Status.OK, failure=failure, **kw
    )


def _cause(scan: _Scan) -> Failure | None:
    """The failure NCCL's own words name (network, GPU, system), with the host that said it."""
    said = [(h, f"{h}: {t}" if h else t) for t, h in scan.warnings.items()]
    said += [(h, f"{h}: {t}" if h else t) for h, t in scan.failures]
    for kind, pattern in _CAUSES:
        for host, line in said:
            if pattern.search(line):
                return Failure(kind, line[:300], host) if kind is not None else None
    return None


def _judge(scan: _Scan, expect_busbw: float | None) -> Failure | None:
    """The failure kind, in the order of the module docstring."""
    rows = scan.rows
    wrong = sum(r.wrong for r in rows)
    oob = scan.oob
    if scan.broken:
        return Failure(
            FailureKind.CORRECTNESS,
            f"NaN or inf in the results at {len(scan.broken)} size(s), "
            f"first {scan.broken[0]} bytes",
        )
    if wrong or (oob and (not oob.ok or oob.count)):
        return Failure(
            FailureKind.CORRECTNESS,
            f"{wrong} wrong elements"
            if wrong
            else f"out of bounds values: {oob.count if oob else '?'} FAILED",
        )
    timeout = next(((h, t) for h, t in scan.failures if t.startswith("Test timeout")), None)
    broke = bool(scan.failures or scan.aborts or scan.cut) or not scan.footer
    if broke and (cause := _cause(scan)) is not None:
        at = f" at {scan.cut[0]} bytes" if scan.cut else ""
        return Failure(cause.kind, f"{cause.message}{at}"[:300], cause.host)
    if timeout is not None:
        return Failure(FailureKind.TIMEOUT, f"{timeout[0]}: {timeout[1]}", timeout[0])
    if not scan.header and not rows:
        # what the launcher said last is the best account of why nothing ran
        said = [t for _, t in scan.failures] + [t for _, t in scan.aborts]
        msg = next((t for t in said if _LAUNCH.search(t)), None)
        msg = msg or (said[0] if said else scan.last)
        return Failure(FailureKind.LAUNCH, msg or "no nccl-tests output")
    if not rows and (scan.failures or not scan.aborts):
        host, msg = next(
            ((h, t) for h, t in scan.failures if _STARTUP.search(t)), ("", "no result table")
        )
        return Failure(FailureKind.STARTUP, f"{host}: {msg}" if host else msg, host)
    if scan.aborts or scan.cut:
        # the launcher's line that names the node, if one does (Open MPI prints it last)
        named = [a for a in scan.aborts if a[0]] or scan.aborts
        host, msg = named[0] if named else ("", "")
        at = f"after {rows[-1].size_bytes} bytes" if rows else "before the first row"
        if scan.cut:
            at = f"at {scan.cut[0]} bytes"
        return Failure(FailureKind.ABORTED, f"the run died {at}: {msg or 'row cut short'}", host)
    if not scan.footer:
        return Failure(
            FailureKind.TIMEOUT, "the table stops without a footer (killed, timed out or trimmed)"
        )
    if scan.failures and (f := next((x for x in scan.failures if _STARTUP.search(x[1])), None)):
        return Failure(FailureKind.STARTUP, f[1], f[0])
    peak = _peak(rows)
    if expect_busbw is not None and (peak or 0) < expect_busbw:
        return Failure(FailureKind.PERFORMANCE, _slow(peak, expect_busbw))
    return None


def _peak(rows: list[Row] | tuple[Row, ...]) -> float | None:
    busbws = [
        h.busbw_gbps for r in rows for h in (r.out_of_place, r.in_place) if h.busbw_gbps is not None
    ]
    return max(busbws) if busbws else None


def _code_version(code: int | None) -> str | None:
    """NCCL_VERSION_CODE (22807) as 2.28.7; pre-2.9 codes are 4 digits (2708 = 2.7.8)."""
    if not code:
        return None
    if code >= 10000:
        return f"{code // 10000}.{code // 100 % 100}.{code % 100}"
    return f"{code // 1000}.{code // 100 % 10}.{code % 100}"


def parse_nccl(
    text: str, *, expect_busbw: float | None = None, collective: str | None = None
) -> NcclResult:
    """nccl-tests text (or its `-J` JSON) -> the result; see the module docstring.
    `collective` names the test when the output does not (old versions print no name).
    A log of several runs is the first run, with the others under `also`; it fails when any
    of them does (with the first failure)."""
    if text.lstrip().startswith(("{", "[{")):
        from aictl.facts.rccl import looks_like_rccl_json, parse_rccl_json

        if looks_like_rccl_json(text):
            return parse_rccl_json(text)
        if text.lstrip().startswith("{"):
            return parse_nccl_json(text, expect_busbw=expect_busbw)
    runs = _scan(text)
    sim = SIM_MARK in text
    if runs[0].collective is None and len(runs) == 1:
        prog = _PROG.search(text[:65536]) or _PROG.search(text[-65536:])
        runs[0].collective = prog.group(1) if prog else None
    results = [_result(scan, sim, expect_busbw, collective) for scan in runs]
    first = results[0]
    if len(results) == 1:
        return first
    failed = next((r for r in results if r.failure is not None), None)
    return dataclasses.replace(
        first,
        status=Status.FAIL if failed else Status.OK,
        failure=failed.failure if failed else None,
        also=tuple(results[1:]),
    )


def _result(
    scan: _Scan, sim: bool, expect_busbw: float | None, collective: str | None
) -> NcclResult:
    devices = scan.devices
    nproc = scan.params.get("nGpus")
    failure = _judge(scan, expect_busbw)
    return NcclResult(
        tool="rccl-tests" if scan.rccl else "nccl",
        status=Status.FAIL if failure else Status.OK,
        failure=failure,
        simulated=sim,
        collective=scan.collective or collective,
        version=scan.version,
        ranks=len(devices) or (nproc if nproc else None),
        devices=tuple(devices),
        rows=tuple(scan.rows),
        peak_busbw_gbps=_peak(scan.rows),
        avg_busbw_gbps=scan.avg,
        out_of_bounds=scan.oob,
        params=scan.params,
        nccl_version=_code_version(scan.nccl_library),
        failed_at=tuple(scan.cut),
        warnings=tuple(f"{h}: {t}" if h else t for t, h in list(scan.warnings.items())[:20]),
    )


def _slow(peak: float | None, expect: float) -> str:
    return f"peak busbw {peak} GB/s < expected {expect:g} GB/s"


def redact_env(env: list[Any]) -> list[str]:
    """`KEY=value` entries: NCCL/CUDA/UCX selection variables kept, every other value hidden."""
    out = []
    for item in env:
        key, sep, _ = str(item).partition("=")
        keep = key.startswith(_KEEP_ENV)
        out.append(str(item) if keep or not sep else f"{key}=<redacted>")
    return out


def _jnum(v: Any) -> float | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    return float(v) if ok else None


def parse_nccl_json(text: str, *, expect_busbw: float | None = None) -> NcclResult:
    """nccl-tests `-J` report (schema v3) -> the same shape as the text parser."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return _done(FailureKind.LAUNCH, f"not JSON: {getattr(exc, 'msg', exc)}", simulated=False)
    if not isinstance(doc, dict):
        return _done(FailureKind.LAUNCH, "not a nccl-tests JSON report", simulated=False)
    cfg: dict[str, Any] = doc["config"] if isinstance(doc.get("config"), dict) else {}
    prog = _PROG.search(" ".join(map(str, doc.get("args") or [])))
    devices = tuple(
        Device(d.get("rank"), d.get("pid"), d.get("hostname"), d.get("device"))
        for d in cfg.get("devices") or []
        if isinstance(d, dict)
    )

    def half(h: Any) -> Half:
        h = h if isinstance(h, dict) else {}
        nwrong = _jnum(h.get("nwrong"))
        return Half(
            _jnum(h.get("time")),
            _jnum(h.get("alg_bw")),
            _jnum(h.get("bus_bw")),
            None if nwrong is None or nwrong != nwrong else int(nwrong),
        )

    rows: list[Row] = []
    for r in doc.get("results") or []:
        try:
            rows.append(
                Row(
                    size_bytes=int(r["size"]),
                    count=int(r["count"]),
                    type=str(r.get("type", "")),
                    redop=str(r.get("redop", "")),
                    root=int(str(r.get("root", "-1")).strip() or -1),
                    out_of_place=half(r.get("out_of_place")),
                    in_place=half(r.get("in_place")),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    oob_doc: dict[str, Any] = (
        doc["out_of_bounds"] if isinstance(doc.get("out_of_bounds"), dict) else {}
    )
    avg_doc: dict[str, Any] = (
        doc["average_bus_bandwidth"] if isinstance(doc.get("average_bus_bandwidth"), dict) else {}
    )
    try:
        oob_count = int(oob_doc.get("count", 0))
    except (TypeError, ValueError):
        oob_count = 0
    oob = OutOfBounds(oob_count, str(oob_doc.get("okay", "true")) != "false")
    peak = _peak(rows)
    errors = [str(e) for e in doc.get("errors") or [] if e]
    wrong = sum(r.wrong for r in rows)
    kind: FailureKind | None = None
    msg = ""
    if wrong or oob.count or not oob.ok:
        kind, msg = FailureKind.CORRECTNESS, f"{wrong} wrong elements"
    elif errors or not rows:
        kind, msg = FailureKind.STARTUP, errors[0] if errors else "no results"
    elif expect_busbw is not None and (peak or 0) < expect_busbw:
        kind, msg = FailureKind.PERFORMANCE, _slow(peak, expect_busbw)
    return _done(
        kind,
        msg,
        simulated=bool(doc.get("simulated")),
        collective=prog.group(1) if prog else None,
        version=str(doc.get("version")),
        ranks=len(devices) or None,
        devices=devices,
        rows=tuple(rows),
        peak_busbw_gbps=peak,
        avg_busbw_gbps=_jnum(avg_doc.get("bandwidth")),
        out_of_bounds=oob,
        params={k: v for k, v in cfg.items() if k != "devices"},
        env=tuple(redact_env(doc.get("env") or [])),
        nccl_version=str(doc["nccl_version"]) if doc.get("nccl_version") is not None else None,
    )
