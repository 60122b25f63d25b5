"""transformers.Trainer on the decoder, and LoRA adapters."""

import pytest
import torch
from datasets import Dataset
from transformers import TrainingArguments

from simba_music import SimbaMusicForCausalLM
from simba_music.training import SimbaMusicCollator, SimbaMusicTrainer
from tests.conftest import tiny_config


def _rows(n=8):
    generator = torch.Generator().manual_seed(0)
    return Dataset.from_list([{"codes": ((torch.arange(16) + 3 * i) % 64).tolist(),
                               "text_states": torch.randn(3, 24, generator=generator).tolist()} for i in range(n)])


def test_trainer_with_accumulation_checkpointing_and_eval(tmp_path):
    model = SimbaMusicForCausalLM(tiny_config("cross_simba"))
    collator = SimbaMusicCollator(64, caption_dropout=0.1, empty_text_states=torch.zeros(1, 24), seed=0)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=2, gradient_accumulation_steps=2,
                             learning_rate=1e-2, max_steps=30, eval_strategy="steps", eval_steps=15,
                             logging_steps=5, report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True,
                             activation_checkpointing=True, remove_unused_columns=False)
    trainer = SimbaMusicTrainer(model=model, args=args, train_dataset=_rows(), eval_dataset=_rows(4),
                                data_collator=collator)
    trainer.train()
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    evals = [e["eval_loss"] for e in trainer.state.log_history if "eval_loss" in e]
    assert losses[-1] < 0.7 * losses[0] and evals[-1] < 0.8 * evals[0]
    assert collator.caption_dropout == 0.1  # restored after evaluation


def test_lora_trains_saves_loads_and_merges(tmp_path):
    pytest.importorskip("peft")
    from simba_music.training.lora import add_lora, load_lora

    base = SimbaMusicForCausalLM(tiny_config("prefix_simba_hybrid")).eval()
    reference = {k: v.clone() for k, v in base.state_dict().items()}
    model = add_lora(base, rank=4)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    ids, text = (torch.arange(16)[None] % 64).repeat(2, 1), torch.randn(2, 3, 24)
    first = None
    for _ in range(15):
        loss = model(input_ids=ids, encoder_hidden_states=text, labels=ids).loss
        first = first if first is not None else loss.item()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert loss.item() < first
    model.eval()
    with torch.no_grad():
        adapted = model(input_ids=ids, encoder_hidden_states=text).logits
    model.save_pretrained(tmp_path / "adapter")

    fresh = SimbaMusicForCausalLM(tiny_config("prefix_simba_hybrid")).eval()
    fresh.load_state_dict(reference)
    loaded = load_lora(fresh, str(tmp_path / "adapter")).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(input_ids=ids, encoder_hidden_states=text).logits, adapted)
        merged = loaded.merge_and_unload()
        torch.testing.assert_close(merged(input_ids=ids, encoder_hidden_states=text).logits, adapted,
                                   atol=1e-4, rtol=1e-4)
    assert isinstance(merged, SimbaMusicForCausalLM)
    assert not any("lora" in name for name in merged.state_dict())
