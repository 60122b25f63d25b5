"""transformers conventions of the decoder: hidden states, return_dict, token-embedding resizing, generate kwargs.

The reproducer config is the one of issue 20 (a tiny Prefix SiMBA)."""

import pytest
import torch
from torch import nn

from simba_music import SimbaMusicConfig, SimbaMusicForCausalLM, SimbaMusicModel
from simba_music.modeling.positions import sinusoidal_positions
from tests.conftest import tiny_config


def issue_config(**overrides) -> SimbaMusicConfig:
    options = dict(vocab_size=65, special_token_id=64, hidden_size=32, num_hidden_layers=2, state_size=16, head_dim=16,
                   chunk_size=8, block_pattern=["mamba2", "mlp"], conditioning="prefix", text_hidden_size=16)
    options.update(overrides)
    return SimbaMusicConfig(**options)


def test_hidden_states_are_the_embeddings_then_every_block_output():
    model = SimbaMusicForCausalLM(issue_config(final_norm=True)).eval()
    ids, text = torch.randint(0, 64, (2, 7)), torch.randn(2, 3, 16)
    block_outputs = []
    hooks = [layer.register_forward_hook(lambda module, args, output: block_outputs.append(output))
             for layer in model.model.layers]
    with torch.no_grad():
        out = model(ids, encoder_hidden_states=text, output_hidden_states=True)
    for hook in hooks:
        hook.remove()
    assert len(out.hidden_states) == model.config.num_hidden_layers + 1
    # Audio positions only (the 3 text positions come first), like last_hidden_state.
    positions = sinusoidal_positions(torch.arange(3, 10), 32, dtype=torch.float32)
    torch.testing.assert_close(out.hidden_states[0], model.model.embed_tokens[0](ids) + positions)
    torch.testing.assert_close(out.hidden_states[1], block_outputs[0][:, 3:])
    torch.testing.assert_close(out.hidden_states[-1], model.model.norm(block_outputs[-1])[:, 3:])
    torch.testing.assert_close(out.hidden_states[-1], out.last_hidden_state)
    assert model(ids).hidden_states is None


@pytest.mark.parametrize("model_class", [SimbaMusicModel, SimbaMusicForCausalLM])
def test_config_output_hidden_states_is_honoured(model_class):
    model = model_class(issue_config(output_hidden_states=True)).eval()
    ids = torch.randint(0, 64, (2, 7))
    with torch.no_grad():
        hidden_states = model(ids).hidden_states
        assert model(ids, output_hidden_states=False).hidden_states is None
    assert [tuple(h.shape) for h in hidden_states] == [(2, 7, 32)] * 3


def test_cached_steps_give_the_hidden_states_of_the_full_forward():
    model = SimbaMusicForCausalLM(issue_config()).eval()
    ids, text = torch.randint(0, 64, (1, 6)), torch.randn(1, 3, 16)
    with torch.no_grad():
        full = model(ids, encoder_hidden_states=text, output_hidden_states=True).hidden_states
        first = model(ids[:, :4], encoder_hidden_states=text, use_cache=True, output_hidden_states=True)
        cache, steps = first.cache, [first.hidden_states]
        for t in (4, 5):
            steps.append(model(ids[:, t:t + 1], cache=cache, use_cache=True, output_hidden_states=True).hidden_states)
    for layer in range(3):
        torch.testing.assert_close(torch.cat([step[layer] for step in steps], dim=1), full[layer],
                                   atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("options",
                         [dict(), dict(do_sample=True), dict(num_beams=2), dict(num_beams=2, do_sample=True)],
                         ids=["greedy", "sample", "beam_search", "beam_sample"])
def test_generate_returns_per_step_hidden_states(options):
    model = SimbaMusicForCausalLM(issue_config()).eval()
    start = torch.full((2, 1), 64)
    out = model.generate(start, max_new_tokens=3, return_dict_in_generate=True, output_hidden_states=True, **options)
    rows = 2 * options.get("num_beams", 1)
    assert len(out.hidden_states) == 3
    for step in out.hidden_states:
        assert [tuple(h.shape) for h in step] == [(rows, 1, 32)] * 3
    if options.get("num_beams", 1) == 1:
        # Step t holds the states of the token fed at step t: the same as a full forward over the sequence.
        with torch.no_grad():
            full = model(out.sequences[:, :-1], output_hidden_states=True).hidden_states
        for t, step in enumerate(out.hidden_states):
            for layer in range(3):
                torch.testing.assert_close(step[layer][:, 0], full[layer][:, t], atol=1e-5, rtol=1e-4)


def test_return_dict_false_gives_the_tuple_of_the_output():
    model = SimbaMusicForCausalLM(issue_config()).eval()
    ids = torch.randint(0, 64, (2, 7))
    with torch.no_grad():
        as_dict = model(ids, labels=ids, output_hidden_states=True)
        loss, logits, hidden_states, last = model(ids, labels=ids, output_hidden_states=True, return_dict=False)
        base = model.model(ids, return_dict=False)
    assert isinstance(base, tuple) and len(base) == 1
    torch.testing.assert_close(loss, as_dict.loss)
    torch.testing.assert_close(logits, as_dict.logits)
    assert len(hidden_states) == 3
    torch.testing.assert_close(last, as_dict.last_hidden_state)


@pytest.mark.parametrize("model_class", [SimbaMusicModel, SimbaMusicForCausalLM])
def test_config_return_dict_false_is_honoured(model_class):
    model = model_class(issue_config(return_dict=False)).eval()
    ids = torch.randint(0, 64, (2, 7))
    with torch.no_grad():
        assert isinstance(model(ids), tuple)
        assert not isinstance(model(ids, return_dict=True), tuple)
    if model_class is SimbaMusicForCausalLM:  # generate() asks for dicts itself
        assert model.generate(torch.full((1, 1), 64), max_new_tokens=2).shape == (1, 3)


def test_prepare_inputs_for_generation_forwards_model_kwargs():
    model = SimbaMusicForCausalLM(issue_config()).eval()
    ids = torch.randint(0, 64, (1, 3))
    inputs = model.prepare_inputs_for_generation(ids, output_hidden_states=True, delay_pattern_applied=False,
                                                 labels=ids)
    assert inputs["output_hidden_states"] is True and inputs["delay_pattern_applied"] is False
    assert "labels" not in inputs
    seen = []
    model.register_forward_pre_hook(lambda module, args, kwargs: seen.append(kwargs.get("delay_pattern_applied")),
                                    with_kwargs=True)
    model.generate(torch.full((1, 1), 64), max_new_tokens=2, delay_pattern_applied=False)
    assert seen == [False, False]


def test_resize_keeps_every_code_and_moves_the_special_id_last(tmp_path):
    model = SimbaMusicForCausalLM(tiny_config(num_codebooks=2)).eval()
    ids = torch.randint(0, 64, (2, 2, 9))
    old_embeddings = [e.weight.detach().clone() for e in model.model.embed_tokens]
    with torch.no_grad():
        old_logits = model(ids).logits
    returned = model.resize_token_embeddings(70)
    assert returned is model.get_input_embeddings()
    config = model.config
    assert (config.vocab_size, config.special_token_id, config.bos_token_id, config.pad_token_id) == (70, 69, 69, 69)
    assert model.generation_config.suppress_tokens == [69]
    assert model.generation_config.bos_token_id == model.generation_config.pad_token_id == 69
    for k in range(2):
        embedding = model.get_input_embeddings(codebook=k)
        assert embedding.num_embeddings == 70 and model.get_output_embeddings(codebook=k).out_features == 70
        torch.testing.assert_close(embedding.weight[:64], old_embeddings[k][:64], rtol=0, atol=0)
        torch.testing.assert_close(embedding.weight[69], old_embeddings[k][64], rtol=0, atol=0)
    with torch.no_grad():
        logits = model(ids).logits  # the delay pattern now pads with the new special id 69
    # Old codes and the special id score exactly as before; the five new codes get scores of their own.
    torch.testing.assert_close(logits[..., :64], old_logits[..., :64], rtol=0, atol=1e-6)
    torch.testing.assert_close(logits[..., 69], old_logits[..., 64], rtol=0, atol=1e-6)
    assert logits.shape == (2, 2, 9, 70)

    model.save_pretrained(tmp_path)
    loaded = SimbaMusicForCausalLM.from_pretrained(tmp_path).eval()
    assert (loaded.config.vocab_size, loaded.config.special_token_id) == (70, 69)
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, logits, rtol=0, atol=0)


def test_shrinking_drops_the_last_codes():
    model = SimbaMusicForCausalLM(issue_config()).eval()
    head = model.get_output_embeddings().weight.detach().clone()
    model.resize_token_embeddings(40, mean_resizing=False)
    assert (model.config.vocab_size, model.config.special_token_id) == (40, 39)
    torch.testing.assert_close(model.get_output_embeddings().weight, torch.cat([head[:39], head[64:]]), rtol=0, atol=0)
    assert model(torch.randint(0, 39, (1, 5))).logits.shape == (1, 5, 40)
    base = SimbaMusicModel(issue_config())
    base.resize_token_embeddings(61, pad_to_multiple_of=8)
    assert (base.config.vocab_size, base.get_input_embeddings().num_embeddings) == (64, 64)


@pytest.mark.parametrize("size", [1, 0, 2.5, True])
def test_resize_to_a_bad_size_is_refused_before_any_change(size):
    model = SimbaMusicForCausalLM(issue_config())
    with pytest.raises(ValueError, match="new_num_tokens"):
        model.resize_token_embeddings(size)
    assert model.get_input_embeddings().num_embeddings == 65 and model.config.special_token_id == 64


def test_output_embeddings_per_codebook():
    model = SimbaMusicForCausalLM(tiny_config(num_codebooks=2))
    assert model.get_output_embeddings(1) is model.lm_head[1]
    head = nn.Linear(32, 65, bias=False)
    model.set_output_embeddings(head, codebook=1)
    assert model.lm_head[1] is head and model.get_output_embeddings() is model.lm_head[0]
    embedding = nn.Embedding(65, 32)
    model.set_input_embeddings(embedding, codebook=1)
    assert model.model.embed_tokens[1] is embedding
    with pytest.raises(ValueError, match=r"codebook: must be an integer in \[0, num_codebooks=2\)"):
        model.get_output_embeddings(2)


def test_loss_takes_pre_shifted_targets_as_given():
    model = SimbaMusicForCausalLM(issue_config()).eval()
    ids, targets = torch.randint(0, 64, (2, 7)), torch.randint(0, 64, (2, 7))
    targets[0, 2] = 64  # the special id is never a target
    with torch.no_grad():
        logits = model(ids).logits
        loss = model(ids, labels=ids, shift_labels=targets).loss
        without_labels = model(ids, shift_labels=targets).loss
    kept = targets != 64
    expected = torch.nn.functional.cross_entropy(logits[kept], targets[kept])
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(without_labels, expected)


@pytest.mark.parametrize("with_text", [False, True])
def test_hidden_states_are_part_of_the_graph(with_text):
    model = SimbaMusicForCausalLM(issue_config())
    ids = torch.randint(0, 64, (2, 7))
    text = torch.randn(2, 3, 16) if with_text else None
    out = model(ids, encoder_hidden_states=text, output_hidden_states=True)
    for states in out.hidden_states:
        states.retain_grad()
    out.logits[:, -1].sum().backward()
    # Every block input feeds the last logits, the first position through the SSM recurrence; the final states act
    # position by position.
    assert all(states.grad is not None and states.grad[:, 0].abs().sum() > 0 for states in out.hidden_states[:-1])
    final = out.hidden_states[-1].grad
    assert final[:, -1].abs().sum() > 0 and final[:, :-1].abs().sum() == 0


def test_generation_continues_from_the_returned_cache():
    model = SimbaMusicForCausalLM(issue_config()).eval()
    prompt, text = torch.randint(0, 64, (2, 4)), torch.randn(2, 3, 16)
    whole = model.generate(prompt, encoder_hidden_states=text, max_new_tokens=5, do_sample=False)
    first = model.generate(prompt, encoder_hidden_states=text, max_new_tokens=2, do_sample=False,
                           return_dict_in_generate=True)
    rest = model.generate(first.sequences, cache=first.past_key_values, max_new_tokens=3, do_sample=False)
    assert torch.equal(rest, whole)


@pytest.mark.parametrize("codebook_count", [1, 2])
def test_resize_adds_codes_before_the_special_id_initialised_as_transformers_does(codebook_count):
    """transformers' resize tests expect the added rows last; ours go just before the special id, which stays the last
    row with its learned values (docs/REFERENCE.md). Their other checks hold with the indices moved by one."""
    model = SimbaMusicForCausalLM(issue_config(num_codebooks=codebook_count)).eval()
    def modules():
        return [*model.model.embed_tokens, *model.lm_head]

    before = [module.weight.detach().clone() for module in modules()]
    model.resize_token_embeddings(75)
    assert (model.config.vocab_size, model.config.special_token_id) == (75, 74)
    for module, old in zip(modules(), before, strict=True):
        weight = module.weight.detach()
        assert weight.shape == (75, 32)
        torch.testing.assert_close(weight[:64], old[:64], rtol=0, atol=0)  # the 64 codes keep their rows
        torch.testing.assert_close(weight[74], old[64], rtol=0, atol=0)  # the special id: last, unchanged
        # The 10 new codes (rows 64..73) start at the mean of the old codes, as transformers' mean_resizing does.
        torch.testing.assert_close(weight[64:74].mean(0), old[:64].mean(0), rtol=1e-3, atol=1e-3)
    shape = (2, codebook_count, 7) if codebook_count > 1 else (2, 7)
    ids = torch.randint(0, 74, shape)
    ids[..., -2] = 73  # the largest new code
    with torch.no_grad():
        assert model(ids).logits.shape == (*shape, 75)


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_gradient_checkpointing_gives_the_gradients_of_the_plain_backward(use_reentrant):
    """With cross-attention the text states enter every block; reentrant checkpointing must see them as inputs of
    each checkpoint (transformers passes only positional arguments through), or the second block's backward runs
    through the text projection's freed graph."""
    torch.manual_seed(0)
    model = SimbaMusicForCausalLM(tiny_config("cross_simba")).train()
    ids, text = torch.randint(0, 64, (2, 7)), torch.randn(2, 3, 24)

    def gradients():
        model.zero_grad()
        model(ids, encoder_hidden_states=text, labels=ids).loss.backward()
        return {name: parameter.grad.clone() for name, parameter in model.named_parameters()}

    plain = gradients()
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": use_reentrant})
    checkpointed = gradients()
    assert plain["model.text_projection.weight"].abs().sum() > 0
    for name, gradient in plain.items():
        torch.testing.assert_close(checkpointed[name], gradient, rtol=1e-5, atol=1e-6, msg=name)
