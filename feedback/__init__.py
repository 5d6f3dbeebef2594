"""Feedback stage: ingest logged transcripts, annotate them in Argilla, build preference data."""
