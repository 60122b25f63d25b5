"""`from_pretrained` errors that say which folder is broken and how."""

from __future__ import annotations

from safetensors import SafetensorError


class ClearLoadingErrorsMixin:
    """A truncated or corrupt safetensors file otherwise surfaces as safetensors' own error ("incomplete metadata"),
    naming neither the folder nor the fix. Put before `PreTrainedModel` in the bases."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        try:
            return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        except SafetensorError as error:
            raise OSError(f"pretrained_model_name_or_path={str(pretrained_model_name_or_path)!r}: a model.safetensors "
                          f"file there is truncated or corrupt ({error}); save or download it again") from error
