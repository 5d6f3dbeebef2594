"""Preference datasets from annotations: aggregate annotators per record, build DPO / reward
pairs, KTO rows and SFT corrections, split by conversation, write dataset cards."""

from supportloop.feedback.preferences.build import BuildResult, build_preferences
from supportloop.feedback.preferences.config import PreferencesConfig

__all__ = ["BuildResult", "PreferencesConfig", "build_preferences"]
