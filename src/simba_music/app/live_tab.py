"""The demo page's "Live" tab: endless music in the browser, steered by up to four weighted prompts while it plays."""

from __future__ import annotations

import gradio as gr

from ..live.mix import DEFAULT_MAX_PROMPTS, format_mix
from ..modeling.values import check_seed
from .live_player import LivePlayer, page_mix
from .session import BROWSER_EXACT_INTEGER, _number


def build_live_tab(player: LivePlayer, defaults: dict, first_prompt: str) -> None:
    """The tab's components and events; call inside a `gr.Tab` of the page's Blocks."""
    gr.Markdown("Music that plays until you stop it. Change the prompts (Enter) or drag a weight while it plays: "
                "the music follows within a few seconds, without a gap.")
    texts, weights = [], []
    for index in range(DEFAULT_MAX_PROMPTS):
        with gr.Row():
            texts.append(gr.Textbox(value=first_prompt if index == 0 else "", label=f"Prompt {index + 1}", scale=4,
                                    elem_id=f"live-prompt-{index}"))
            weights.append(gr.Slider(0.0, 1.0, value=1.0 if index == 0 else 0.5, step=0.05, label="Weight", scale=1,
                                     elem_id=f"live-weight-{index}"))
    with gr.Row():
        guidance = gr.Slider(0.0, 20.0, value=defaults["guidance_scale"], step=0.5, label="Guidance",
                             elem_id="live-guidance")
        temperature = gr.Slider(0.05, 5.0, value=defaults["temperature"], step=0.05, label="Temperature",
                                elem_id="live-temperature")
        seed = gr.Number(value=0, precision=0, minimum=0, maximum=BROWSER_EXACT_INTEGER, label="Seed",
                         elem_id="live-seed")
    with gr.Row():
        start = gr.Button("Start", variant="primary", elem_id="live-start")
        stop = gr.Button("Stop", elem_id="live-stop")
    audio = gr.Audio(label="Live", streaming=True, autoplay=True, interactive=False, elem_id="live-audio")
    underruns = gr.Number(value=0, label="Underruns (generation fell behind playback)", precision=0,
                          interactive=False, elem_id="live-underruns")
    status = gr.Markdown(elem_id="live-status")
    controls = texts + weights + [guidance, temperature]

    def read(values) -> tuple:
        count = DEFAULT_MAX_PROMPTS
        mix = page_mix(values[:count], values[count:2 * count])
        return (mix, _number("Guidance", values[-2], low=0.0, high=20.0),
                _number("Temperature", values[-1], low=0.0, high=5.0, low_open=True))

    def play(*values):
        try:
            mix, guidance_scale, temperature_value = read(values[:-1])
            seed_value = check_seed(int(_number("Seed", values[-1])), "Seed")
        except ValueError as error:
            raise gr.Error(str(error), title="Invalid input") from None
        for chunk, count in player.play(mix, guidance_scale, temperature_value, seed_value):
            yield {audio: (player.session.sampling_rate, chunk), underruns: count}

    def steer(*values):
        try:
            mix, guidance_scale, temperature_value = read(values)
            playing = player.steer(mix, guidance_scale, temperature_value)
        except ValueError as error:
            return f"Not changed: {error}"
        return f"Playing: {format_mix(mix)}" if playing else "Not playing: press Start"

    started = start.click(play, inputs=controls + [seed], outputs=[audio, underruns], concurrency_id="live",
                          concurrency_limit=1)
    for text in texts:
        text.submit(steer, inputs=controls, outputs=status, concurrency_limit=None)
    for slider in weights + [guidance, temperature]:
        slider.release(steer, inputs=controls, outputs=status, concurrency_limit=None)
    stop.click(player.stop, cancels=[started], concurrency_limit=None)


__all__ = ["build_live_tab"]
