"""Reading an input file with a hard byte limit, from the open file itself.

A size check on the path (`stat().st_size`) says 0 for /dev/zero and nothing for a FIFO, and
the file can change between the check and the read; so the file is opened first, checked to be
a regular file by its open descriptor, and read for at most `limit + 1` bytes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class InputFileError(OSError):
    """The file cannot be used as input; `reason` says why in words a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.strerror = reason


_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _refuse_special(mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise InputFileError(f"is {kind}, not a regular file; refused unread")


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of the regular file `path`, at most `limit`; InputFileError otherwise."""
    # O_NONBLOCK: opening a FIFO with no writer would otherwise wait for ever.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        # a socket cannot be opened at all (ENXIO): say what it is rather than errno's words
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = stat.S_IFREG
        _refuse_special(mode)
        raise InputFileError(exc.strerror or str(exc)) from None
    try:
        _refuse_special(os.fstat(fd).st_mode)
        chunks: list[bytes] = []
        got = 0
        while got <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > limit:
            raise InputFileError(f"larger than the limit of {limit} bytes; refused")
        return b"".join(chunks)
    except InputFileError:
        raise
    except OSError as exc:
        raise InputFileError(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
