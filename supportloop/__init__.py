"""supportloop: the CLI and the spine shared by the stages (configs, run directories, lineage)."""
