"""`from_pretrained` errors that say which folder is broken and how, and strict weight loading."""

from __future__ import annotations

from safetensors import SafetensorError


class ClearLoadingErrorsMixin:
    """A truncated or corrupt safetensors file otherwise surfaces as safetensors' own error ("incomplete metadata"),
    naming neither the folder nor the fix. Put before `PreTrainedModel` in the bases.

    Loading is strict: a checkpoint missing weights the model has (say `lm_head`, left random) or holding weights it
    does not have (a foreign `pytorch_model.bin`) is refused, where transformers would only log a table and the model
    would produce noise or NaN. `strict=False` restores transformers' behaviour."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, strict: bool = True, **kwargs):
        wants_info = kwargs.pop("output_loading_info", False)
        try:
            model, info = super().from_pretrained(pretrained_model_name_or_path, *args, output_loading_info=True,
                                                  **kwargs)
        except SafetensorError as error:
            raise OSError(f"pretrained_model_name_or_path={str(pretrained_model_name_or_path)!r}: a model.safetensors "
                          f"file there is truncated or corrupt ({error}); save or download it again") from error
        missing, unexpected = sorted(info.get("missing_keys", ())), sorted(info.get("unexpected_keys", ()))
        if strict and (missing or unexpected):
            raise ValueError(f"pretrained_model_name_or_path={str(pretrained_model_name_or_path)!r}: the weights do "
                             f"not fit {cls.__name__}: {len(missing)} missing {missing[:5]}, {len(unexpected)} "
                             f"unexpected {unexpected[:5]}; pass strict=False to load anyway (missing weights stay "
                             "random)")
        return (model, info) if wants_info else model
