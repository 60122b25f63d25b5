"""Converting the authors' released SSM-TTM checkpoints (see conversion_scripts/convert_ssm_ttm_checkpoint.py)."""
