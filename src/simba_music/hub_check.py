"""`--push-to-hub` checked before the work: an upload that can only fail (offline, no network, no or a refused token,
a malformed repo id) used to fail after a whole training run or conversion."""

from __future__ import annotations


def check_hub_push(repo_id: str, option: str = "--push-to-hub") -> None:
    """Refuse `repo_id` unless it is a valid repo id and the Hub answers `whoami` with the credentials the upload
    will use (transformers' own Hub client, so a test's stand-in answers too)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id
    from transformers.utils import hub

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ValueError(f"{option}: {error}") from None
    try:
        hub.hf_api().whoami()
    except Exception as error:  # offline mode, no network, no token or a refused one: each its own type
        raise ValueError(f"{option}: cannot upload to the Hub ({type(error).__name__}: {error}); log in "
                         "(`hf auth login` or HF_TOKEN), unset HF_HUB_OFFLINE, or drop the option; nothing was "
                         "done") from None


__all__ = ["check_hub_push"]
