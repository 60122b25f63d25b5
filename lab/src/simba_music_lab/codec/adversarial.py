"""The codec trainer's adversarial stage: a discriminator, its optimizer, and the two halves of each GAN step.

It switches on at ``adversarial_start_step``, once the reconstruction losses have flattened. Its state lives in the
run's checkpoints as Accelerate's second model and optimizer (``model_1.safetensors``, ``optimizer_1.bin``); the
exported codec never contains it. A run whose checkpoint has no discriminator (started without the stage) gets a
fresh one at resume: see :meth:`AdversarialStage.prepare`.
"""

from __future__ import annotations

import torch

from simba_music_lab.codec.discriminators import (
    CodecDiscriminator,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)

LOSS_NAMES = ("adversarial_loss", "feature_matching_loss", "discriminator_loss")  # train_log.jsonl fields
SEED_OFFSET = 7919  # the discriminator's init seed is the run's seed plus this: fixed, and apart from the codec's


class AdversarialStage:
    def __init__(self, config):
        self.config = config
        with torch.random.fork_rng():  # the codec's random stream is the same with or without a discriminator
            torch.manual_seed(config.seed + SEED_OFFSET)
            self.discriminator = CodecDiscriminator()
        self.optimizer = torch.optim.AdamW(self.discriminator.parameters(), lr=config.discriminator_learning_rate,
                                           betas=(0.8, 0.99), weight_decay=0.0)
        self.plain = self.discriminator
        self.accelerator = None

    def prepare(self, accelerator) -> None:
        """Register with Accelerate, after the codec's model, optimizer and scheduler, so that ``save_state`` and
        ``load_state`` see the discriminator as model 1 and optimizer 1. Call it before ``load_state`` when the
        checkpoint holds a discriminator, after it when not: ``load_state`` only reads what is registered, so a
        checkpoint without one still loads and the discriminator stays freshly initialised."""
        self.discriminator, self.optimizer = accelerator.prepare(self.discriminator, self.optimizer)
        self.plain = accelerator.unwrap_model(self.discriminator)
        self.accelerator = accelerator

    def active(self, step: int) -> bool:
        """Whether the step numbered ``step`` (0-based: the number of steps done before it) trains adversarially."""
        return step >= self.config.adversarial_start_step

    def discriminator_step(self, real: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
        """One optimizer step of the discriminator on real vs generated audio (no gradient reaches the codec).

        Both go through one forward call: a DDP-wrapped module must not be called twice before its backward."""
        verdicts = self.discriminator(torch.cat([real, generated.detach()]))
        real_verdicts, generated_verdicts = _split_batch(verdicts, real.shape[0])
        loss = discriminator_loss(real_verdicts, generated_verdicts)
        self.optimizer.zero_grad(set_to_none=True)
        self.accelerator.backward(loss)
        if self.config.grad_clip > 0:
            self.accelerator.clip_grad_norm_(self.discriminator.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return loss.detach()

    def generator_losses(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, torch.Tensor]:
        """The adversarial and feature-matching terms for the codec; gradients flow into ``generated`` only.

        The plain (not DDP-wrapped) discriminator with its parameters frozen: no weight gradients are computed
        for it, and none are all-reduced, on this pass."""
        self.plain.requires_grad_(False)
        try:
            with torch.no_grad():
                real_verdicts = self.plain(real)
            generated_verdicts = self.plain(generated)
        finally:
            self.plain.requires_grad_(True)
        return {
            "adversarial_loss": generator_adversarial_loss(generated_verdicts),
            "feature_matching_loss": feature_matching_loss(real_verdicts, generated_verdicts),
        }

    def weighted(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        return (self.config.adversarial_weight * losses["adversarial_loss"]
                + self.config.feature_matching_weight * losses["feature_matching_loss"])


def _split_batch(verdicts: list, size: int) -> tuple[list, list]:
    """Verdicts on ``cat([a, b])`` -> (verdicts on ``a``, verdicts on ``b``), ``a`` holding ``size`` items."""
    first, second = [], []
    for logits, features in verdicts:
        first.append((logits[:size], [f[:size] for f in features]))
        second.append((logits[size:], [f[size:] for f in features]))
    return first, second
