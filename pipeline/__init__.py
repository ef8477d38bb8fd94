"""Grounded word embeddings with the Image-Enhanced Skip-Gram model (IESG).

The package holds the logic of every DVC stage; ``stages/`` holds one thin script per stage
that reads its section of ``params.yaml`` and calls into these modules.
"""
