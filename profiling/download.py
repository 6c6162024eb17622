"""Fetch a model artifact with the Hugging Face client.

Uses `huggingface_hub.hf_hub_download`: its progress bar, resumable downloads,
the standard cache (HF_HOME / HF_HUB_CACHE) and HF_HUB_OFFLINE are all the
client's own. Failures become one clear message, never a traceback.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from advisor.errors import AdvisorError


class DownloadError(AdvisorError):
    exit_code = 1


@contextmanager
def _hub_errors(repo: str, what: str, revision: Optional[str], local_hint: str):
    """Turn the Hugging Face client's failures into one DownloadError naming what to do."""
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        yield
    except LocalEntryNotFoundError as e:
        raise DownloadError(
            f"{what} is not in the Hugging Face cache ({constants.HF_HUB_CACHE})"
            + (" and HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else " and the Hub cannot be reached")
            + f": give {local_hint}, or measure a random-weight copy with --synthetic"
        ) from e
    except GatedRepoError as e:
        raise DownloadError(f"{repo} is gated: accept its licence on the Hub and log in (`hf auth login`)") from e
    except RepositoryNotFoundError as e:
        raise DownloadError(f"no repository {repo} on the Hub (or it is private)") from e
    except RevisionNotFoundError as e:
        raise DownloadError(f"{repo} has no revision {revision}") from e
    except EntryNotFoundError as e:
        raise DownloadError(f"{what} is not in {repo}") from e
    except OSError as e:
        raise DownloadError(f"downloading {what} failed: {e}") from e


def fetch_artifact(repo: str, filename: str, expected_size: Optional[int] = None,
                   revision: Optional[str] = None) -> Path:
    from huggingface_hub import hf_hub_download

    where = f"{repo}/{filename}"
    with _hub_errors(repo, where, revision, "a local file with --file PATH"):
        path = Path(hf_hub_download(repo_id=repo, filename=filename, revision=revision))
    if expected_size is not None:
        size = os.path.getsize(path)
        if size != expected_size:
            raise DownloadError(f"{where} is {size} bytes, the knowledge base lists {expected_size}: "
                                "the download is incomplete or the file changed")
    return path


def fetch_checkpoint(repo: str, revision: Optional[str] = None) -> Path:
    """A Transformers checkpoint folder (config, tokenizer and safetensors files) through the same client."""
    from huggingface_hub import snapshot_download

    with _hub_errors(repo, repo, revision, "a local checkpoint folder with --file DIR"):
        return Path(snapshot_download(repo_id=repo, revision=revision,
                                      allow_patterns=["*.json", "*.safetensors", "tokenizer*", "*.model"]))
