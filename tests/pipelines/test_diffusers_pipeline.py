import numpy as np
import pytest

# Generation loops of tiny models: one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")

pytest.importorskip("diffusers")

from simba_music.pipelines.diffusers_pipeline import SimbaMusicDiffusionPipeline  # noqa: E402


def test_diffusers_pipeline_generates_and_round_trips(t5_model, tmp_path):
    model, processor = t5_model
    pipe = SimbaMusicDiffusionPipeline(model=model, processor=processor)
    pipe.set_progress_bar_config(disable=True)
    output = pipe(["calm piano", "jazz drums"], duration=1.6, seed=2)
    assert output.audios.shape == (2, 1, 20 * 640) and output.audios.dtype == np.float32
    pipe.save_pretrained(tmp_path)
    loaded = SimbaMusicDiffusionPipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert loaded.sampling_rate == 8000
    np.testing.assert_allclose(loaded(["calm piano", "jazz drums"], duration=1.6, seed=2).audios, output.audios,
                               atol=1e-5)
    with pytest.raises(ValueError, match="output_type: must be 'np' or 'pt'"):
        pipe("calm piano", duration=0.8, output_type="latent")
