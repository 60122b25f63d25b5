"""Training a small RVQ codec in transformers' EnCodec format, and measuring it."""

from simba_music_lab.codec.config import small_encodec_config
from simba_music_lab.codec.pretrained import pretrained_codec_path
from simba_music_lab.codec.train import CodecTrainConfig, train_codec

__all__ = ["CodecTrainConfig", "pretrained_codec_path", "small_encodec_config", "train_codec"]
