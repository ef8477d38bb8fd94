"""Query a run of the pipeline from Python: the images of a word or phrase, the words of an image, the
nearest words, and the grounded word vectors.

    from pipeline.api import load_model

    model = load_model(".")                     # the best validation P@1 model, by the headline score (cos)
    model.images_for_word("ice cream", k=5)     # a phrase is the mean of its words' vectors
    model.words_for_image("data/images/...")    # an image id, a mapped image's file, or any image file
    model.neighbours("bird", k=8)
    model.keyed_vectors                         # gensim KeyedVectors the model is scored against

Several models of one run share one read of its artifacts: ``run = Run("."); run.model("iesg", "dot")``.
Every result names its ``model``, why that model (``chosen``) and its ``score``.
"""

from pipeline.api.run import GroundedModel, Run, load_model

__all__ = ["GroundedModel", "Run", "load_model"]
