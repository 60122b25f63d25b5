"""LoRA adapters (peft, the `[train]` extra) over the decoder's mixer projections and attention."""

from __future__ import annotations

# Every matrix that mixes information: SSM in/out projections, attention projections, the MLP.
DEFAULT_TARGET_MODULES = ["in_proj", "out_proj", "x_proj", "q_proj", "kv_proj", "up_proj", "down_proj"]


def add_lora(model, rank: int = 8, alpha: int = 16, dropout: float = 0.0, target_modules: list[str] | None = None):
    """Wrap `model` (a SimbaMusicForCausalLM) in a peft LoRA model; only the adapters train."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as error:
        raise ImportError("LoRA needs peft: pip install 'simba-music[train]'") from error
    if rank < 1:
        raise ValueError(f"rank must be >= 1, got {rank}")
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in (target_modules or DEFAULT_TARGET_MODULES) if t in present]
    if not targets:
        raise ValueError(f"target_modules: none of {target_modules or DEFAULT_TARGET_MODULES} exist in the model")
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, bias="none")
    return get_peft_model(model, config)


def load_lora(model, adapter_dir: str):
    """Attach saved adapters to a base model."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, adapter_dir)
