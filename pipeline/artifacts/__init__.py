"""Every artifact of the pipeline: where it lives (:mod:`.layout`) and how each format is read, written and
checked (one module per format). Stages, the CLI, bench/ and the tests go through these modules."""
