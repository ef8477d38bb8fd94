"""The explorer: a static page to query the trained models by hand (word or phrase -> images, image -> words)."""
