"""Models that map image features into the word space: one module per model, the shared pieces in
``base``, and the registry (``registry``) that the train and evaluate stages look models up in."""
