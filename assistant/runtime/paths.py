"""Where Parley keeps its settings, models, logs and caches (platform folders, overridable)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "Parley"


def config_dir() -> Path:
    """Folder of settings.toml. PARLEY_CONFIG_DIR overrides the platform's config folder."""
    return Path(os.environ.get("PARLEY_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME, appauthor=False))


def models_dir() -> Path:
    """The model store. PARLEY_MODELS_DIR overrides the platform's data folder."""
    override = os.environ.get("PARLEY_MODELS_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "models"


def log_dir() -> Path:
    """Folder of parley.log. PARLEY_LOG_DIR overrides the platform's log folder."""
    return Path(os.environ.get("PARLEY_LOG_DIR") or platformdirs.user_log_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Downloaded offline packs (wheels) before they are converted. PARLEY_CACHE_DIR overrides."""
    return Path(os.environ.get("PARLEY_CACHE_DIR") or platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def catalog_path() -> Path:
    """The model catalog shipped with Parley (models/catalog.toml in the source tree)."""
    return Path(__file__).resolve().parents[2] / "models" / "catalog.toml"


def data_dir() -> Path:
    """What the user keeps with Parley besides models: timers and alarms, remembered facts. PARLEY_DATA_DIR overrides
    the platform's data folder."""
    return Path(os.environ.get("PARLEY_DATA_DIR") or platformdirs.user_data_dir(APP_NAME, appauthor=False))
