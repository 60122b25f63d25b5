"""`from_pretrained` errors that say which folder is broken and how, strict weight loading, aligned weights."""

from __future__ import annotations

import torch
from safetensors import SafetensorError

# PyTorch's CPU allocator aligns to 64 bytes; weights read from a file can land anywhere.
CPU_ALIGNMENT = 64


@torch.no_grad()
def align_cpu_weights(model: torch.nn.Module) -> None:
    """Move every CPU parameter and buffer whose data is not aligned like PyTorch's allocations to an aligned copy,
    in place.

    MKL's matrix products take a different summation order for unaligned operands, so the same weights gave logits
    1e-6 apart depending on where the loader put them (`modeling/linear.py`'s weight-major product): a model saved and
    loaded again would no longer reproduce itself bit for bit. The bytes from a tensor's start are copied once, and
    every tensor starting there keeps its shape and strides, so tied weights (a transposed view included) stay tied."""
    copies: dict[int, torch.UntypedStorage] = {}
    for tensor in [*model.parameters(), *model.buffers()]:
        start = tensor.data_ptr()
        if tensor.device.type != "cpu" or start % CPU_ALIGNMENT == 0:
            continue
        if start not in copies:  # a fresh allocation from PyTorch's allocator
            copies[start] = tensor.untyped_storage()[tensor.storage_offset() * tensor.element_size():].clone()
        tensor.data = tensor.new_empty(0).set_(copies[start], 0, tensor.shape, tensor.stride())

class ClearLoadingErrorsMixin:
    """A truncated or corrupt safetensors file otherwise surfaces as safetensors' own error ("incomplete metadata"),
    naming neither the folder nor the fix. Put before `PreTrainedModel` in the bases.

    Loaded CPU weights are realigned (`align_cpu_weights`), so that a saved model reproduces its outputs exactly.

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
        align_cpu_weights(model)
        return (model, info) if wants_info else model
