"""`supportloop preferences`: annotator responses -> DPO/reward pairs, KTO rows, SFT rows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from supportloop.app import OVERRIDES_HELP, app, console, user_errors


@app.command()
@user_errors
def preferences(
    config: Annotated[
        Path, typer.Argument(help="YAML config, e.g. configs/preferences/default.yaml")
    ],
    overrides: Annotated[list[str] | None, typer.Argument(help=OVERRIDES_HELP)] = None,
) -> None:
    """Build preference datasets (TRL formats) from Argilla responses and logged signals.

    Aggregates annotators per record (agreement threshold applied), derives
    DPO / reward-model pairs, KTO rows and SFT corrections, splits them by
    conversation (optionally by customer) into train/test and saves each with
    a dataset card (README.md) under the run directory.
    """
    from feedback.preferences import PreferencesConfig, build_preferences
    from supportloop.config import load_config

    result = build_preferences(load_config(PreferencesConfig, config, overrides or []))
    for name, info in result.summary["datasets"].items():
        rows = ", ".join(f"{split} {n}" for split, n in info["rows"].items())
        console.print(f"{name}: {rows}  by source {info['by_source']['train']} (train)")
    if "label_balance" in result.summary["datasets"]["kto"]:
        console.print(f"kto label balance: {result.summary['datasets']['kto']['label_balance']}")
    agg = result.summary["aggregation"]
    console.print(
        f"records kept {agg.get('records_kept', 0)} of {agg.get('records', 0)} "
        f"(dropped for low agreement {agg.get('records_dropped_low_agreement', 0)}, "
        f"downweighted {agg.get('records_downweighted', 0)})"
    )
    console.print(f"saved to {result.run_dir}")
