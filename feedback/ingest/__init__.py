"""Ingest: read logged transcripts, validate, quarantine, redact PII, label repeat contacts."""
