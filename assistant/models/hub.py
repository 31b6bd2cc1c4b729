"""Downloads from the Hugging Face hub, for models the user asked for (`parley models pull`).

huggingface_hub does the transfer: it shows a progress bar, resumes interrupted files, and reuses
what is already in the user's hub cache (so a model fetched earlier by mlx-whisper costs nothing).
This is the only place Parley reaches the network.
"""

from __future__ import annotations

import fnmatch
import io
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from assistant.models.catalog import HubSource
from assistant.models.errors import ModelError

log = logging.getLogger(__name__)


# Called as (done, total or None while unknown, unit: "B" for bytes or "files"), from huggingface_hub's threads.
DownloadProgress = Callable[[int, "int | None", str], None]


def download_snapshot(source: HubSource, on_progress: DownloadProgress | None = None) -> Path:
    """Fetch the repo's files (only `source.files` patterns if given) and return the snapshot folder.

    Without `on_progress` huggingface_hub draws its own progress bars on the terminal; with it, nothing
    is drawn and the progress goes to `on_progress` instead (a window's progress bar).
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    log.info("fetching %s %s", source.repo, ", ".join(source.files) or "(all files)")
    bars = {"tqdm_class": _reporting_progress_bar(on_progress)} if on_progress else {}
    try:
        return Path(snapshot_download(repo_id=source.repo, allow_patterns=list(source.files) or None, **bars))
    except LocalEntryNotFoundError as exc:
        raise ModelError(
            f"cannot download {source.repo}: the Hugging Face hub can't be reached and the model is not in the "
            "local hub cache. Connect to the internet and try again (the download resumes where it stopped)."
        ) from exc
    except RepositoryNotFoundError as exc:
        raise ModelError(f"{source.repo} does not exist on the Hugging Face hub (or needs a login)") from exc
    except (HfHubHTTPError, OSError) as exc:
        raise ModelError(f"downloading {source.repo} failed: {exc}. Try again to resume.") from exc


def _reporting_progress_bar(on_progress: DownloadProgress) -> type:
    """A tqdm class that draws nothing and passes the download's progress to `on_progress`.

    huggingface_hub makes several bars from the class it is given: a count of files and, in recent
    versions, counts of bytes (aggregated over the files). The furthest bytes bar is reported, or the
    file count as a stand-in for versions that make no bytes bar from it.
    """
    from tqdm import tqdm

    lock = threading.Lock()
    bars: list[tqdm] = []

    class ReportingBar(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)  # huggingface_hub's own tqdm takes it; tqdm's does not
            kwargs.update(disable=False, file=io.StringIO())  # counted but never drawn
            super().__init__(*args, **kwargs)
            with lock:
                bars.append(self)

        def display(self, msg=None, pos=None):
            with lock:
                counts = [(bar.unit, int(bar.n), int(bar.total or 0)) for bar in bars]
            byte_counts = [(done, total) for unit, done, total in counts if unit == "B"]
            if any(done for done, _ in byte_counts):
                done, total = max(byte_counts)
                on_progress(done, total or None, "B")
            elif counts and not byte_counts:
                _, done, total = counts[0]
                on_progress(done, total or None, "files")
            return True

    return ReportingBar


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
