"""The demo page: a gradio Blocks app around MusicSession (`simba-music demo`, and `app.py` on a Space).

Runs offline: analytics are off and the theme uses the system's fonts, so the page fetches nothing from a CDN.
"""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no telemetry, no version ping

import gradio as gr  # noqa: E402

from .live_player import LivePlayer  # noqa: E402
from .live_tab import build_live_tab  # noqa: E402
from .session import (  # noqa: E402
    BROWSER_EXACT_INTEGER,
    LIMITS_HELP,
    MAX_APP_DURATION_S,
    MAX_QUEUE,
    MAX_UPLOAD,
    MusicSession,
    check_request,
    check_server_options,
)

EXAMPLE_COUNT = 8
_SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]
_SYSTEM_MONO = ["ui-monospace", "monospace"]


def can_stream_audio() -> bool:
    # gradio encodes streamed audio to AAC with ffmpeg (a Space has it); without it the page shows the result only.
    return shutil.which("ffmpeg") is not None


def offline_theme() -> gr.themes.Base:
    return gr.themes.Default(font=_SYSTEM_FONTS, font_mono=_SYSTEM_MONO)


def example_prompts(count: int = EXAMPLE_COUNT) -> list[str]:
    from ..captions import example_captions

    return example_captions(count)


class RefuseUploads:
    """ASGI middleware: gradio's upload routes answer 403. The page has no upload component, yet gradio takes any
    file of any size into its cache there, which `--host 0.0.0.0`, `--share` or a Space would open to anyone."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].rstrip("/").rsplit("/", 1)[-1] in ("upload", "upload_progress"):
            from starlette.responses import PlainTextResponse

            await PlainTextResponse("uploads are disabled on this server", status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def server_options() -> dict:
    """`Blocks.launch` keywords that make the server safe to expose: uploads refused (and, should a route slip
    through, limited to a few kB), errors shown as messages, the offline theme."""
    from starlette.middleware import Middleware

    return dict(app_kwargs={"middleware": [Middleware(RefuseUploads)]}, max_file_size=MAX_UPLOAD, show_error=True,
                theme=offline_theme())


def build_demo(session: MusicSession, live_player: LivePlayer | None = None) -> gr.Blocks:
    """The page: a Generate tab and a Live tab (`live_player` plays it; made here unless given). Inputs default to
    the model's saved generation config; one generation and one live stream run at a time."""
    # gradio serves files from its cache folder, copying anything outside it there; pointing the cache at the
    # session's bounded store means each result exists once and is trimmed and removed with the store.
    os.environ["GRADIO_TEMP_DIR"] = str(session.store.root)
    with gr.Blocks(title="simba-music demo", analytics_enabled=False) as demo:
        gr.Markdown("# simba-music\nState-space (SiMBA) text-to-music. Describe an instrument, a key, a tempo, a "
                    "metre and a style, as in the examples. Runs on this machine's CPU.")
        with gr.Tabs():
            with gr.Tab("Generate", id="generate-tab"):
                build_generate_tab(session)
            with gr.Tab("Live", id="live-tab", elem_id="live-tab"):
                build_live_tab(live_player or LivePlayer(session), session.defaults,
                               first_prompt=example_prompts(1)[0])
    demo.queue(default_concurrency_limit=1, max_size=MAX_QUEUE)
    return demo


def build_generate_tab(session: MusicSession) -> None:
    """One piece of music per request, streamed while it is generated; call inside the page's Blocks."""
    defaults = session.defaults
    streaming = can_stream_audio()

    def generate(prompt, duration, guidance, temperature, seed, random_seed, progress=gr.Progress()):
        try:
            request = check_request(prompt, duration, guidance, temperature, seed, random_seed)
        except ValueError as error:
            raise gr.Error(str(error), title="Invalid input") from None
        chunks = session.stream(request)
        done = 0.0
        try:
            while True:
                chunk = next(chunks)
                done += len(chunk) / session.sampling_rate
                progress(min(done / request.duration, 1.0), desc=f"{done:.1f} of {request.duration:g} s")
                if streaming:
                    yield {live: (session.sampling_rate, chunk), used_seed: request.seed}
        except StopIteration as finished:
            wav, png = finished.value
        except Exception as error:  # shown as a message on the page, never as a traceback
            raise gr.Error(f"Generation failed: {error}", title="Generation failed") from None
        yield {result: wav, spectrogram: png, download: wav, used_seed: request.seed}

    with gr.Row():
        with gr.Column():
            prompt = gr.Textbox(label="Prompt", lines=3, elem_id="prompt",
                                placeholder="Solo violin plays a slow baroque chorale in D minor; 4/4, 66 BPM.")
            duration = gr.Slider(0.5, MAX_APP_DURATION_S, value=min(defaults["duration"], MAX_APP_DURATION_S),
                                 step=0.5, label="Duration (s)", elem_id="duration")
            guidance = gr.Slider(0.0, 20.0, value=defaults["guidance_scale"], step=0.5, elem_id="guidance",
                                 label="Guidance (classifier-free; 1 = off)")
            temperature = gr.Slider(0.05, 5.0, value=defaults["temperature"], step=0.05, label="Temperature",
                                    elem_id="temperature")
            with gr.Row():
                seed = gr.Number(value=0, precision=0, minimum=0, maximum=BROWSER_EXACT_INTEGER,
                                 label="Seed", elem_id="seed")
                random_seed = gr.Checkbox(value=False, label="Random seed", elem_id="random-seed")
            button = gr.Button("Generate", variant="primary", elem_id="generate")
            gr.Examples(examples=[[text] for text in example_prompts()], inputs=[prompt], label="Demo prompts")
        with gr.Column():
            live = gr.Audio(label="Live (streamed while generating)", streaming=True, autoplay=False,
                            elem_id="live", interactive=False, visible=streaming)
            result = gr.Audio(label="Result", type="filepath", elem_id="result", interactive=False)
            spectrogram = gr.Image(label="Spectrogram", type="filepath", elem_id="spectrogram",
                                   interactive=False)
            download = gr.File(label="Download WAV", elem_id="download", interactive=False)
            used_seed = gr.Number(label="Seed used", precision=0, interactive=False, elem_id="used-seed")
    gr.Markdown(f"Defaults from {_source_name(defaults['source'])}. {LIMITS_HELP}")
    button.click(generate, inputs=[prompt, duration, guidance, temperature, seed, random_seed],
                 outputs=[live, result, spectrogram, download, used_seed], concurrency_limit=1)


def _source_name(source: str) -> str:
    # The folder's name, not the machine's path to it.
    return source if source.startswith("the ") else f"the model's {os.path.basename(source)}"


def launch(model=None, host: str = "127.0.0.1", port: int = 7860, share: bool = False, **kwargs):
    """Check the options, load the model, build the page and serve it (blocks until stopped unless
    `prevent_thread_lock=True`). Bad --host/--port/--model are refused before the model loads."""
    model = check_server_options(host, port, model)
    demo = build_demo(MusicSession(model))
    demo.launch(server_name=host, server_port=port, share=share, **{**server_options(), **kwargs})
    return demo


__all__ = ["RefuseUploads", "build_demo", "build_generate_tab", "example_prompts", "launch", "offline_theme",
           "server_options"]
