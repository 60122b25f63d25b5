"""The demo web app (`simba-music demo`): `session` (checks and generation, no gradio) and `ui` (the gradio page).

Needs the `[demo]` extra (gradio); `import simba_music` never imports this package.
"""
