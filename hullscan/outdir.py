"""Output folders: checked before any work, locked against a second writer, written atomically.

A command that writes into ``--out`` opens it with :func:`output_folder` before it reads its
inputs, so a path that is a file, cannot be created or is read-only fails at once, in one line,
instead of after minutes of work. The folder is locked (``.hullscan.lock``, ``flock``) for the
run: a second run into the same folder is refused while the first one writes. Each run records
the files it wrote in ``.hullscan-run.json``; a rerun removes the previous run's files first, so
stale files never sit beside new ones. A folder that holds files hullscan did not write is
refused (nothing of the user's is deleted).

Files are written with :func:`atomic_path`: under a temporary name, renamed over the target
when complete, so a full disk or a crash leaves the previous file or none, never a truncated one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from hullscan.errors import OutputError

LOCK = ".hullscan.lock"
MANIFEST = ".hullscan-run.json"
TMP_PREFIX = ".tmp-"
# hullscan batch's mark that the folder's run finished (hullscan.batch.jobs). Any new run into
# the folder removes it first: the folder is no longer the one the batch finished.
DONE_MARKER = ".hullscan-batch-done.json"


def os_error_line(err: OSError, what: str = "") -> str:
    """One line for an OS error: the file, what went wrong and what to do about it."""
    name = err.filename or what or "file"
    hint = {
        errno.ENOSPC: "free some space or choose another --out",
        errno.EDQUOT: "free some space or choose another --out",
        errno.EROFS: "the file system is read-only: choose another --out",
        errno.EACCES: "no permission: choose a folder you can write to",
        errno.EPERM: "no permission: choose a folder you can write to",
        errno.ENOENT: "check the path",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EISDIR: "expected a file, got a folder",
    }.get(err.errno or 0, "")
    return f"{name}: {err.strerror or err}" + (f" ({hint})" if hint else "")


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """A temporary path beside ``target``; renamed over it when the block ends without error."""
    target = Path(target)
    tmp = target.with_name(TMP_PREFIX + target.name)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_text_atomic(target: str | Path, text: str) -> Path:
    target = Path(target)
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return target


class OutputFolder:
    """An output folder held by this run (see :func:`output_folder`)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.path)) for p in self.path.rglob("*")
                      if p.is_file() and p.name not in (LOCK, MANIFEST, DONE_MARKER)
                      and not p.name.startswith(TMP_PREFIX))


def _check_writable(path: Path) -> None:
    probe = path / f"{TMP_PREFIX}probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise OutputError(f"{path}: output folder is not writable ({os_error_line(err)})") from err


def _clear_previous(path: Path, command: str) -> None:
    """Remove the previous run's files (listed in its manifest); refuse foreign files."""
    with contextlib.suppress(FileNotFoundError):
        (path / DONE_MARKER).unlink()
    man = path / MANIFEST
    previous: list[str] = []
    if man.exists():
        try:
            previous = list(json.loads(man.read_text()).get("files", []))
        except (OSError, ValueError, AttributeError):
            previous = []
    present = OutputFolder(path).files()
    foreign = [f for f in present if f not in previous]
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OutputError(f"{path}: output folder already holds files hullscan did not write ({shown}); "
                          f"choose an empty or new --out for '{command}'")
    for f in previous:
        with contextlib.suppress(FileNotFoundError):
            (path / f).unlink()
    for d in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            d.rmdir()  # only empty ones
    for tmp in path.rglob(TMP_PREFIX + "*"):  # a killed run's half-written files
        with contextlib.suppress(OSError):
            tmp.unlink()


@contextlib.contextmanager
def output_folder(out: str | Path, command: str) -> Iterator[OutputFolder]:
    """Check, create, lock and clear ``out`` for one run of ``command``; record its files at the end."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: --out is a file, expected a folder; give a folder name (it is created)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{path}: cannot create the output folder ({os_error_line(err)})") from err
    _check_writable(path)
    with held_lock(path, LOCK, f"pid {os.getpid()} ({command})", "hullscan run"):
        _clear_previous(path, command)
        folder = OutputFolder(path)
        try:
            yield folder
        finally:
            # Whatever this run wrote (also when it failed: a partial report) belongs to it.
            with contextlib.suppress(OSError):
                write_text_atomic(path / MANIFEST, json.dumps({"command": command, "files": folder.files()},
                                                              indent=1))


@contextlib.contextmanager
def held_lock(path: Path, name: str, owner: str, what: str) -> Iterator[None]:
    """``path/name`` held with an exclusive lock while the block runs, ``owner`` written in it; a
    folder another process holds is one line naming that holder (``what`` it is, and its owner text)."""
    import fcntl

    try:
        fh = (path / name).open("a+")
    except OSError as err:
        raise OutputError(f"{path}: cannot create the lock file ({os_error_line(err)})") from err
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise OutputError(f"{path}: another {what} ({holder}) is writing into this folder; "
                              "wait for it to finish or choose another --out") from err
        fh.seek(0)
        fh.truncate()
        fh.write(owner)
        fh.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file, or of every file below a directory (sorted, path-qualified)."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
    for q in files:
        if p.is_dir():
            h.update(str(q.relative_to(p)).encode() + b"\0")
        with q.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()
