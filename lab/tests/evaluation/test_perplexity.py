import math

import pytest
import torch

from simba_music_lab.evaluation.caption_swaps import caption_swap_gains
from simba_music_lab.evaluation.perplexity import decoder_cross_entropy

from .conftest import build_tiny, save_dataset

CAPTIONS = ["calm piano in a major key", "fast jazz drums", "slow folk guitar and strings"]


def hand_cross_entropy(model, processor, codes, captions):
    """Each example alone (no padding): -log softmax(logits)[next code], summed over all predicted codes."""
    special = model.config.decoder.special_token_id
    total, count = 0.0, 0
    for row, caption in zip(codes, captions, strict=True):
        text = processor([caption])
        row = torch.tensor(row)
        row = row[None] if row.dim() == 1 else row  # [K, T]
        inputs = torch.cat([torch.full((row.shape[0], 1), special), row], dim=1)[None]
        with torch.no_grad():
            logits = model(input_ids=text["input_ids"], attention_mask=text["attention_mask"],
                           decoder_input_ids=inputs[:, 0] if row.shape[0] == 1 else inputs).logits
        logits = logits[:, None] if row.shape[0] == 1 else logits  # [1, K, T + 1, V]
        log_probs = torch.log_softmax(logits[0, :, :-1].double(), dim=-1)
        total -= float(log_probs.gather(-1, row[..., None]).sum())
        count += row.numel()
    return total / count


@pytest.mark.parametrize("num_codebooks", [1, 2])
def test_cross_entropy_matches_hand_computation(tmp_path, num_codebooks):
    model, processor = build_tiny(num_codebooks)
    generator = torch.Generator().manual_seed(0)
    lengths = [7, 12, 4]  # ragged: the batched computation pads
    codes = [torch.randint(0, 64, (num_codebooks, n), generator=generator) for n in lengths]
    codes = [c[0].tolist() if num_codebooks == 1 else c.tolist() for c in codes]
    dataset = save_dataset(tmp_path / "tokens", codes, CAPTIONS)
    result = decoder_cross_entropy(model, processor, dataset, batch_size=2, progress=False)
    expected = hand_cross_entropy(model, processor, codes, CAPTIONS)
    assert result["split"] == "validation" and result["examples"] == 3
    assert result["tokens"] == sum(lengths) * num_codebooks
    assert result["cross_entropy"] == pytest.approx(expected, rel=1e-5)
    assert result["perplexity"] == pytest.approx(math.exp(expected), rel=1e-5)
    assert result["uniform_cross_entropy"] == pytest.approx(math.log(64))
    if num_codebooks > 1:
        assert len(result["per_codebook_cross_entropy"]) == 2


def test_cross_entropy_depends_on_the_caption(tmp_path):
    model, processor = build_tiny()
    codes = [[1, 2, 3, 4, 5, 6]] * 2
    first = decoder_cross_entropy(model, processor, save_dataset(tmp_path / "a", codes, CAPTIONS[:2]),
                                  progress=False)
    second = decoder_cross_entropy(model, processor, save_dataset(tmp_path / "b", codes, CAPTIONS[1:]),
                                   progress=False)
    assert first["cross_entropy"] != pytest.approx(second["cross_entropy"], rel=1e-9)


def test_cross_entropy_refuses_bad_datasets(tmp_path):
    model, processor = build_tiny()
    with pytest.raises(ValueError, match="dataset: no such directory"):
        decoder_cross_entropy(model, processor, tmp_path / "missing", progress=False)
    dataset = save_dataset(tmp_path / "tokens", [[1, 2]], ["piano"], split="train")
    with pytest.raises(ValueError, match="dataset_split"):
        decoder_cross_entropy(model, processor, dataset, progress=False)


def test_bad_limits_and_code_less_splits_are_refused_before_the_model_runs(tmp_path):
    model, processor = build_tiny()
    calls = []
    model.register_forward_hook(lambda *args: calls.append(1))
    with pytest.raises(ValueError, match="max_examples: must be >= 1"):
        decoder_cross_entropy(model, processor, save_dataset(tmp_path / "a", [[1, 2]], ["piano"]), max_examples=0,
                              progress=False)
    empty = save_dataset(tmp_path / "b", [[], []], CAPTIONS[:2])
    with pytest.raises(ValueError, match="has no codes to score"):
        decoder_cross_entropy(model, processor, empty, progress=False)
    with pytest.raises(ValueError, match="has no codes to score"):
        caption_swap_gains(model, processor, empty, progress=False)
    assert calls == []
    # one code-less row among others is scored, not refused
    mixed = save_dataset(tmp_path / "c", [[], [1, 2, 3]], CAPTIONS[:2])
    assert decoder_cross_entropy(model, processor, mixed, progress=False)["tokens"] == 3
