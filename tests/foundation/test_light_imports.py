"""Config types load without torch, so `argilla pull`, `argilla agreement` and config checks
do not pay for it; torch is imported where generation or training happens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECK = (
    "import supportloop.feedback.argilla.settings, supportloop.feedback.argilla.pull\n"
    "import supportloop.feedback.argilla.agreement\n"
    "import supportloop.eval.config, supportloop.cli, sys\n"
    "heavy = sorted(m for m in ('torch', 'transformers', 'trl', 'peft') if m in sys.modules)\n"
    "assert not heavy, heavy\n"
)


def test_config_modules_do_not_import_torch():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
