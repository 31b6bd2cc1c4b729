"""Downloads from the Hugging Face hub, for models the user asked for (`parley models pull`).

huggingface_hub does the transfer: it shows a progress bar, resumes interrupted files, and reuses
what is already in the user's hub cache (so a model fetched earlier by mlx-whisper costs nothing).
This is the only place Parley reaches the network.
"""

from __future__ import annotations

import fnmatch
import logging
import shutil
import tempfile
from pathlib import Path

from assistant.models.catalog import HubSource
from assistant.models.errors import ModelError

log = logging.getLogger(__name__)


def download_snapshot(source: HubSource) -> Path:
    """Fetch the repo's files (only `source.files` patterns if given) and return the snapshot folder."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    log.info("fetching %s %s", source.repo, ", ".join(source.files) or "(all files)")
    try:
        return Path(snapshot_download(repo_id=source.repo, allow_patterns=list(source.files) or None))
    except LocalEntryNotFoundError as exc:
        raise ModelError(
            f"cannot download {source.repo}: the Hugging Face hub can't be reached and the model is not in the "
            "local hub cache. Connect to the internet and run the command again (it resumes where it stopped)."
        ) from exc
    except RepositoryNotFoundError as exc:
        raise ModelError(f"{source.repo} does not exist on the Hugging Face hub (or needs a login)") from exc
    except (HfHubHTTPError, OSError) as exc:
        raise ModelError(f"downloading {source.repo} failed: {exc}. Run the command again to resume.") from exc


def selected_files(snapshot: Path, source: HubSource) -> Path:
    """The path to import from a snapshot: the snapshot itself, or a folder of just the matching files.

    A repo such as rhasspy/piper-voices holds many models; the cached snapshot may hold several of
    them, so only files matching the catalog's patterns are taken.
    """
    if not source.files:
        return snapshot
    matches = [
        p for p in snapshot.rglob("*")
        if p.is_file() and any(fnmatch.fnmatch(p.relative_to(snapshot).as_posix(), pat) for pat in source.files)
    ]
    if not matches:
        raise ModelError(f"{source.repo} has no files matching {', '.join(source.files)}")
    if len(matches) == 1:
        return matches[0]
    folder = Path(tempfile.mkdtemp(prefix="parley-hub-"))
    for match in matches:
        shutil.copyfile(match, folder / match.name)  # resolves the cache's symlinks to blobs
    return folder
