import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, Trainer, TrainingArguments

from simba_music import SimbaMusicConfig, SimbaMusicForCausalLM, SimbaMusicModel
from tests.conftest import tiny_config


def test_save_load_round_trip_is_exact(tmp_path):
    model = SimbaMusicForCausalLM(tiny_config("prefix_simba_hybrid")).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    loaded = SimbaMusicForCausalLM.from_pretrained(tmp_path).eval()
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    ids, text = torch.randint(0, 64, (2, 12)), torch.randn(2, 3, 24)
    with torch.no_grad():
        assert torch.equal(model(ids, encoder_hidden_states=text).logits,
                           loaded(ids, encoder_hidden_states=text).logits)


def test_auto_classes(tmp_path):
    config = tiny_config("cross_simba")
    assert isinstance(AutoConfig.for_model("simba_music"), SimbaMusicConfig)
    assert isinstance(AutoModel.from_config(config), SimbaMusicModel)
    model = AutoModelForCausalLM.from_config(config)
    assert isinstance(model, SimbaMusicForCausalLM)
    model.save_pretrained(tmp_path)
    assert isinstance(AutoModelForCausalLM.from_pretrained(tmp_path), SimbaMusicForCausalLM)


def test_loss_shifts_ignores_padding_and_accepts_num_items():
    model = SimbaMusicForCausalLM(tiny_config()).eval()
    ids = torch.randint(0, 64, (2, 10))
    labels = ids.clone()
    labels[1, 6:] = -100
    with torch.no_grad():
        out = model(ids, labels=labels)
        logits = out.logits
        expected = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 65), labels[:, 1:].reshape(-1))
        summed = model(ids, labels=labels, num_items_in_batch=torch.tensor(4)).loss
    torch.testing.assert_close(out.loss, expected)
    torch.testing.assert_close(summed, expected * 14 / 4)  # 9 + 5 counted targets


def test_label_smoothing_raises_the_loss_of_confident_predictions():
    plain = SimbaMusicForCausalLM(tiny_config()).eval()
    with torch.no_grad():
        for head in plain.lm_head:
            head.weight.mul_(50)  # sharp logits: a confident model
    smoothed = SimbaMusicForCausalLM(tiny_config(label_smoothing=0.1)).eval()
    smoothed.load_state_dict(plain.state_dict())
    ids = torch.randint(0, 64, (2, 10))
    with torch.no_grad():
        logits = plain(ids).logits
        labels = ids.clone()
        labels[:, 1:] = logits[:, :-1].argmax(-1)  # the targets are what the model predicts: confident and right
        plain_loss, smoothed_loss = plain(ids, labels=labels).loss, smoothed(ids, labels=labels).loss
    log_probs = logits[:, :-1].log_softmax(-1)
    targets = labels[:, 1:]
    counted = targets != 64  # the special id is ignored
    nll = -log_probs.gather(-1, targets.clamp(max=64).unsqueeze(-1)).squeeze(-1)[counted].mean()
    uniform = -log_probs.mean(-1)[counted].mean()
    torch.testing.assert_close(plain_loss, nll)
    torch.testing.assert_close(smoothed_loss, 0.9 * nll + 0.1 * uniform)
    assert smoothed_loss > plain_loss + 0.5, (plain_loss, smoothed_loss)


def test_gradient_checkpointing_matches_plain_gradients():
    model = SimbaMusicForCausalLM(tiny_config("cross_simba")).train()
    ids, text = torch.randint(0, 64, (2, 16)), torch.randn(2, 3, 24)
    model(ids, encoder_hidden_states=text, labels=ids).loss.backward()
    plain = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    model(ids, encoder_hidden_states=text, labels=ids).loss.backward()
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad, plain[name], atol=1e-5, rtol=1e-4, msg=name)


def test_trainer_reduces_the_loss(tmp_path):
    model = SimbaMusicForCausalLM(tiny_config())
    # Counting sequences: each code is the previous one plus one, which a working model learns quickly.
    rows = [{"input_ids": (torch.arange(24) + 7 * i) % 64} for i in range(4)]
    for row in rows:
        row["labels"] = row["input_ids"]
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=4, learning_rate=1e-2,
                             num_train_epochs=30, logging_steps=5, report_to=[], save_strategy="no",
                             use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=rows)
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses[-1] < 0.5 * losses[0]


def test_bf16_forward_and_step_stay_close_to_fp32():
    model = SimbaMusicForCausalLM(tiny_config()).eval()
    ids, text = torch.randint(0, 64, (2, 12)), torch.randn(2, 3, 24)
    with torch.no_grad():
        reference = model(ids, encoder_hidden_states=text).logits
        model = model.to(torch.bfloat16)
        half = model(ids, encoder_hidden_states=text.bfloat16()).logits
        cache = model(ids[:, :-1], encoder_hidden_states=text.bfloat16(), use_cache=True).cache
        step = model(ids[:, -1:], cache=cache).logits
    assert half.dtype == torch.float32  # logits are upcast for the loss and sampling
    assert (half - reference).abs().max() < 0.1
    assert (step[:, 0] - reference[:, -1]).abs().max() < 0.1


@pytest.mark.parametrize("shape", [(12,), (2, 2, 12)])
def test_wrong_input_rank_is_refused(shape):
    model = SimbaMusicForCausalLM(tiny_config())
    with pytest.raises(ValueError, match="input_ids"):
        model(torch.zeros(shape, dtype=torch.long))


def test_cross_attention_without_text_is_refused():
    model = SimbaMusicForCausalLM(tiny_config("cross_simba"))
    with pytest.raises(ValueError, match="encoder_hidden_states"):
        model(torch.zeros(1, 4, dtype=torch.long))
