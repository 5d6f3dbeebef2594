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
    from rich.table import Table

    from supportloop.config import load_config
    from supportloop.feedback.preferences import PreferencesConfig, build_preferences

    result = build_preferences(load_config(PreferencesConfig, config, overrides or []))
    table = Table("dataset", "train", "test", "rows by source (all splits)")
    for name, info in result.summary["datasets"].items():
        by_source: dict[str, int] = {}
        for counts in info["by_source"].values():
            for source, n in counts.items():
                by_source[source] = by_source.get(source, 0) + n
        sources = ", ".join(f"{s} {n}" for s, n in sorted(by_source.items()))
        table.add_row(name, str(info["rows"]["train"]), str(info["rows"]["test"]), sources)
    console.print(table)
    balance = result.summary["datasets"]["kto"]["label_balance"]["all"]
    console.print(
        f"kto labels: {balance['desirable']} desirable / {balance['undesirable']} undesirable"
        f" (suggested desirable_weight {balance.get('suggested_desirable_weight', '-')})"
    )
    agg = result.summary["aggregation"]
    console.print(
        f"records kept {agg.get('records_kept', 0)} of {agg.get('records', 0)} "
        f"(low agreement: dropped {agg.get('records_dropped_low_agreement', 0)}, "
        f"downweighted {agg.get('records_downweighted', 0)}; all discarded "
        f"{agg.get('records_without_submitted', 0)})"
    )
    if not any(sum(info["rows"].values()) for info in result.summary["datasets"].values()):
        console.print("[bold yellow]warning:[/] no rows at all: are there submitted responses?")
    console.print(f"saved to {result.run_dir}")
