"""Where W&B runs go: online with credentials, offline without, or nowhere; decided here only.

Every stage that logs to W&B (training's `report_to`, eval's run, the registry's alias sync)
asks `wandb_mode`, so a fresh machine without a key writes offline runs instead of dying in
`wandb.init`, and one `wandb login` turns every stage online at once. Standard library only:
the PPO worker imports it from its own virtualenv.
"""

from __future__ import annotations

import netrc
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# W&B's hosted service under its old and its current API address: `wandb login` writes the
# one its client version defaults to into ~/.netrc.
HOSTED_WANDB = ("api.wandb.ai", "api.forge.coreweave.com")
_OFFLINE_MODES = {"offline": "offline", "dryrun": "offline", "disabled": "disabled"}


@dataclass(frozen=True)
class WandbMode:
    """The decision and the words to show it: `mode` is online, offline or disabled.

    `off` and `on` are the stage's own switch (e.g. report.wandb=false / report.wandb=true).
    """

    mode: str
    reason: str
    off: str
    on: str

    @property
    def online(self) -> bool:
        return self.mode == "online"

    def line(self) -> str:
        """One line for the start of a command: the mode, why, and how to change it."""
        if self.mode == "online":
            change = f"WANDB_MODE=offline keeps runs local, {self.off} skips W&B"
        elif self.mode == "offline":
            change = (
                "`wandb login` or WANDB_API_KEY logs online, `wandb sync <dir>/offline-run-*` "
                f"uploads a run later, {self.off} skips W&B"
            )
        elif self.reason == self.off:
            change = f"{self.on} logs a run"
        else:
            change = "unset WANDB_MODE to log runs"
        return f"W&B {self.mode} ({self.reason}): {change}"


def netrc_path() -> Path:
    """The netrc file W&B reads and `wandb login` writes: $NETRC, else ~/.netrc (~/_netrc)."""
    if os.environ.get("NETRC"):
        return Path(os.environ["NETRC"]).expanduser()
    unix = Path.home() / ".netrc"
    windows = Path.home() / "_netrc"
    return windows if not unix.exists() and windows.exists() else unix


def _wandb_hosts() -> tuple[str, ...]:
    base_url = os.environ.get("WANDB_BASE_URL")
    return (urlsplit(base_url).netloc,) if base_url else HOSTED_WANDB


def wandb_credentials() -> str | None:
    """Where a W&B key is configured (an env variable or the netrc file), or None."""
    for variable in ("WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE"):
        if os.environ.get(variable):
            return f"{variable} is set"
    path = netrc_path()
    try:
        entries = netrc.netrc(str(path))
    except (OSError, netrc.NetrcParseError):  # missing or unreadable: W&B finds no key either
        return None
    for host in _wandb_hosts():
        auth = entries.authenticators(host)
        if auth and auth[2]:
            return f"key for {host} in {path}"
    return None


def wandb_mode(
    enabled: bool = True, off: str = "report.wandb=false", on: str = "report.wandb=true"
) -> WandbMode:
    """The W&B mode of a stage whose own switch (`off` / `on`) says `enabled`.

    WANDB_MODE, when set, wins; otherwise online exactly when a key is configured.
    """
    if not enabled:
        return WandbMode("disabled", off, off, on)
    explicit = os.environ.get("WANDB_MODE", "").strip().lower()
    if explicit:
        mode = _OFFLINE_MODES.get(explicit, "online")
        return WandbMode(mode, f"WANDB_MODE={explicit}", off, on)
    found = wandb_credentials()
    return WandbMode("online" if found else "offline", found or "no W&B key configured", off, on)
