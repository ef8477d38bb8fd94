"""The models package (registry added with the modules)."""
