"""The joint model: skip-gram on the corpus and the contrastive image loss on shared word vectors."""

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors

from pipeline.core.errors import PipelineError
from pipeline.core.params import checked
from pipeline.models import base
from pipeline.models.joint import SkipGramPairs, skip_gram_step, train
from pipeline.models.params import JointParams


pytestmark = pytest.mark.usefixtures("one_thread")


def corpus_world(seed: int = 0, concepts: int = 10, dim: int = 8, per: int = 6) -> base.TrainingInputs:
    """Concept words with images (features a noisy linear map of their vectors), each concept
    surrounded in the corpus by two 'friend' words of its own that have no image, and fillers.
    Input and output vectors start random: the corpus objective has something to learn."""
    rng = np.random.default_rng(seed)
    vocabulary = 3 * concepts + 10
    vectors = (0.3 * rng.normal(size=(vocabulary, dim))).astype(np.float32)
    output = (0.3 * rng.normal(size=(vocabulary, dim))).astype(np.float32)
    concept = np.repeat(np.arange(concepts), per)
    features = rng.normal(size=(concepts, 12))[concept] + 0.2 * rng.normal(size=(len(concept), 12))
    split = np.array((["train"] * (per - 2) + ["val", "test"]) * concepts)
    tokens = []
    for _ in range(1500):
        c = int(rng.integers(concepts))
        friends = [c + concepts * (1 + int(rng.integers(2))) for _ in range(3)]
        tokens += [friends[0], friends[1], c, friends[2], int(rng.integers(3 * concepts, vocabulary))]
    tokens = np.array(tokens, dtype=np.int64)
    tokens[::97] = -1  # a few out-of-vocabulary tokens
    counts = np.bincount(tokens[tokens >= 0], minlength=vocabulary).astype(np.int64)
    keyed = KeyedVectors(dim)
    keyed.add_vectors([f"w{i}" for i in range(vocabulary)], vectors)
    data = base.GroundingData(features.astype(np.float32), split, concept.astype(np.int64),
                              np.arange(len(concept), dtype=np.int64))
    return base.TrainingInputs(keyed, output, data, {}, tokens, counts)


FAST = dict(epochs=4, patience=0, text_pairs_per_epoch=6000, text_batch_size=256, text_lr=0.02, sample=0,
            window=2, batch_size=8, lr=0.01, word_lr=0.01)


def test_skip_gram_step_is_sgd_on_the_negative_sampling_loss():
    rng = np.random.default_rng(0)
    words_in = torch.from_numpy(rng.normal(size=(6, 4)).astype(np.float32))
    words_out = torch.from_numpy(rng.normal(size=(6, 4)).astype(np.float32))
    centre, context = torch.tensor([0, 1, 0]), torch.tensor([2, 3, 4])
    noise = torch.tensor([[5, 3], [0, 5], [5, 5]])
    e = words_in.clone().requires_grad_(True)
    u = words_out.clone().requires_grad_(True)
    positive = (e[centre] * u[context]).sum(1)
    negative = torch.einsum("nd,nkd->nk", e[centre], u[noise])
    loss = -(torch.nn.functional.logsigmoid(positive).sum() + torch.nn.functional.logsigmoid(-negative).sum())
    loss.backward()
    returned = skip_gram_step(words_in, words_out, centre, context, noise, lr=0.1)
    assert returned == pytest.approx(loss.item(), rel=1e-5)
    assert torch.allclose(words_in, e.detach() - 0.1 * e.grad, atol=1e-6)  # duplicate rows summed
    assert torch.allclose(words_out, u.detach() - 0.1 * u.grad, atol=1e-6)


def test_pairs_come_from_windows_and_skip_unknown_tokens():
    inputs = corpus_world()
    pairs = SkipGramPairs(inputs.tokens, inputs.counts)
    centre, context, noise = pairs.draw(np.random.default_rng(0), 5000, window=2, negatives=3, sample=0)
    assert 4900 < len(centre) <= 5000 and noise.shape == (len(centre), 3)
    assert (centre >= 0).all() and (context >= 0).all() and (noise >= 0).all()
    # In this corpus a concept word (< 10) is always within 2 tokens of its own friends.
    concept = centre < 10
    near_friend = (context[concept] % 10 == centre[concept]) | (context[concept] >= 30)
    assert near_friend.mean() > 0.6


def test_text_loss_decreases_and_every_word_learns():
    inputs = corpus_world()
    pretrained = inputs.vectors.vectors.copy()
    trained = train(inputs, JointParams(**FAST), seed=0)
    text_loss = trained.summary["text_loss"]
    assert len(text_loss) == 4 and text_loss[-1] < text_loss[0]
    words = trained.word_vectors
    assert trained.projection.words == "own"
    assert words.shape == pretrained.shape and words.dtype == np.float32
    friends = np.arange(10, 30)  # no images: only the text can move them
    assert (np.linalg.norm(words[friends] - pretrained[friends], axis=1) > 1e-3).all()
    assert np.array_equal(inputs.vectors.vectors, pretrained)  # the inputs are not modified


def test_without_text_only_the_mapped_words_move():
    inputs = corpus_world()
    pretrained = inputs.vectors.vectors.copy()
    trained = train(inputs, JointParams(**{**FAST, "text_pairs_per_epoch": 0}), seed=0)
    mapped = inputs.data.mapped_words()
    others = np.setdiff1d(np.arange(len(pretrained)), mapped)
    assert np.array_equal(trained.word_vectors[others], pretrained[others])
    assert not np.array_equal(trained.word_vectors[mapped], pretrained[mapped])
    assert trained.summary["text_loss"] == [0.0] * 4


def test_learns_the_image_words():
    inputs = corpus_world()
    trained = train(inputs, JointParams(**{**FAST, "epochs": 10}), seed=0)
    p1 = base.validation_p1(trained.projection.project(inputs.data.features), trained.word_vectors, inputs.data,
                            "cos", split="test")
    assert p1 >= 0.7  # chance among the 10 mapped words: 0.1


def test_deterministic_for_a_seed():
    inputs = corpus_world()
    params = JointParams(**{**FAST, "epochs": 2})
    first, second = train(inputs, params, seed=1), train(inputs, params, seed=1)
    assert np.array_equal(first.word_vectors, second.word_vectors)
    assert np.array_equal(first.projection.projection, second.projection.projection)
    assert first.summary == second.summary


def test_feature_noise_reaches_the_image_steps():
    inputs = corpus_world()
    clean = train(inputs, JointParams(**{**FAST, "epochs": 2, "feature_noise": 0.0}), seed=1)
    noisy = train(inputs, JointParams(**{**FAST, "epochs": 2, "feature_noise": 0.5}), seed=1)
    assert not np.allclose(clean.projection.projection, noisy.projection.projection)


def test_impossible_inputs_are_refused():
    inputs = corpus_world()
    data = inputs.data
    no_train = base.TrainingInputs(inputs.vectors, inputs.output_vectors, base.GroundingData(
        data.features, np.full(len(data.split), "test"), data.link_words, data.link_images), {}, inputs.tokens,
        inputs.counts)
    with pytest.raises(PipelineError, match="no link has a training image"):
        train(no_train, JointParams(**FAST), seed=0)
    no_text = base.TrainingInputs(inputs.vectors, inputs.output_vectors, data, {}, np.full(10, -1), inputs.counts)
    with pytest.raises(PipelineError, match="corpus"):
        train(no_text, JointParams(**FAST), seed=0)


@pytest.mark.parametrize("change, message", [
    ({"text_batch_size": 0}, "params train.joint.text_batch_size: must be >= 1, got 0$"),
    ({"text_pairs_per_epoch": -1}, "params train.joint.text_pairs_per_epoch: must be >= 0, got -1$"),
    ({"text_lr": 0.0}, "params train.joint.text_lr: must be > 0, got 0.0$"),
    ({"window": 0}, "params train.joint.window: must be >= 1, got 0$"),
    ({"lr": -1.0}, "params train.joint.lr: must be > 0, got -1.0$"),
])
def test_invalid_params_are_refused_in_one_line(change, message):
    with pytest.raises(PipelineError, match=message):
        checked(JointParams(**change), "train.joint")


def test_training_never_touches_a_held_out_image():
    """As for contrastive: NaN features of the validation and test images must never reach a training batch."""
    inputs = corpus_world()
    data = inputs.data
    features = data.features.copy()
    features[data.split != "train"] = np.nan
    inputs.data = base.GroundingData(features, data.split, data.link_words, data.link_images)
    trained = train(inputs, JointParams(**{**FAST, "epochs": 2}), seed=0)
    assert np.isfinite(trained.projection.projection).all()
    assert np.isfinite(trained.word_vectors).all()
    assert all(np.isfinite(entry.loss) for entry in trained.log)


def test_negative_words_follow_the_unigram_to_the_three_quarters():
    """word2vec's noise distribution: P(w) proportional to count(w)^0.75 (not uniform, not the raw unigram)."""
    counts = np.array([1, 10000, 1000, 100, 10], dtype=np.int64)
    tokens = np.tile(np.arange(5), 2000)
    _, _, noise = SkipGramPairs(tokens, counts).draw(np.random.default_rng(0), 4000, window=1, negatives=25,
                                                     sample=0)
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    observed = np.bincount(noise.ravel(), minlength=len(counts)) / noise.size
    assert noise.size > 90000
    assert np.abs(observed - expected).max() < 0.006, (observed, expected)


def test_the_summary_gives_the_kept_epochs_stopping_score():
    trained = train(corpus_world(), JointParams(**{**FAST, "epochs": 2, "stop_on": "top1"}), seed=0)
    assert trained.kept_epoch == 2
    assert trained.summary["stopping_score"] == round(trained.log[-1].val_p1, 4)


def test_each_epoch_shows_its_image_steps(capsys):
    train(corpus_world(), JointParams(**{**FAST, "epochs": 2}), seed=0)
    err = capsys.readouterr().err
    assert "joint epoch 1/2" in err and "joint epoch 2/2" in err and "step/s" in err
