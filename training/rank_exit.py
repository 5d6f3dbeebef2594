"""How a process started by `accelerate launch` ends: with its peers, and without torch's teardown.

Tearing the gloo group down the usual way (`Trainer.end()` -> `destroy_process_group()`, then
letting the DDP model go) can hang a finished rank forever: the model's release runs
~ProcessGroupGloo, which joins gloo's worker threads while holding the GIL, and a worker still
releasing a just-finished all-gather waits for that GIL. py-spy showed exactly this on 2 busy
cores, in about 1 run in 5 of the two-rank CPU test. A rank whose outputs are written and whose
W&B run is finished has nothing left for destructors, so it leaves with `os._exit`.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable

from supportloop.errors import UserError


def in_process_group() -> bool:
    """True in a rank of a multi-process run (torch.distributed initialised)."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def exit_rank(code: int) -> int:
    """Return `code` outside a process group; inside one, leave the process with it.

    On success every rank first waits at a barrier, so none leaves while a peer still needs
    it; on failure the rank leaves at once (its peers fail on the ddp timeout).
    """
    if not in_process_group():
        return code
    if code == 0:
        import torch.distributed as dist

        dist.barrier()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def say_error_line(line: str) -> None:
    """Write `line` to stderr in one system call, so peers' lines never splice into it.

    With PYTHONUNBUFFERED set (as on CI) `print` writes the text and its newline separately, and
    two ranks refusing at once produced `...dataseterror: ...` on one line (strace shows both).
    """
    sys.stderr.flush()
    os.write(sys.stderr.fileno(), f"{line}\n".encode())


def run_rank(train: Callable[[], object]) -> int:
    """Run one process's training and leave through `exit_rank`, whatever happens.

    Bad input -> one `error:` line and 2; a crash -> its traceback and 1; a crashed rank must
    not hang in teardown either, or the launcher waits on it instead of stopping the run.
    """
    try:
        train()
    except (UserError, FileNotFoundError) as exc:
        say_error_line(f"error: {exc}")
        return exit_rank(2)
    except Exception:
        traceback.print_exc()
        return exit_rank(1)
    return exit_rank(0)
