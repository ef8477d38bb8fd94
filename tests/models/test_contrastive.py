"""The contrastive model: its masked InfoNCE loss and its training on tiny hand-made data."""

import math

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors

from pipeline.core.errors import PipelineError
from pipeline.core.params import checked
from pipeline.models import base
from pipeline.models.contrastive import (
    Batches, expected_first, masked_info_nce, noisy, symmetric_loss, train, validation_pair_p1,
)
from pipeline.models.params import ContrastiveParams


pytestmark = pytest.mark.usefixtures("one_thread")


def make_inputs(data: base.GroundingData, vectors: np.ndarray, tokens=None, counts=None) -> base.TrainingInputs:
    keyed = KeyedVectors(vectors.shape[1])
    keyed.add_vectors([f"w{i}" for i in range(len(vectors))], vectors.astype(np.float32))
    tokens = np.zeros(0, dtype=np.int64) if tokens is None else tokens
    counts = np.ones(len(vectors), dtype=np.int64) if counts is None else counts
    return base.TrainingInputs(keyed, vectors.astype(np.float32).copy(), data, {}, tokens, counts)


def near_pairs_world(seed: int = 0, pairs: int = 10, dim: int = 16, per: int = 30, gap: float = 0.05,
                     noise: float = 0.3):
    """Concepts in pairs whose word vectors differ only by a small ``gap`` direction, images that tell
    every concept apart (a noisy one-hot code), and 10 unlinked filler words.

    The known answer: a ridge regression onto the word vectors (L2) lands between the two near-equal
    words of a pair, while a ranking loss can single out the direction that separates them."""
    rng = np.random.default_rng(seed)
    centre, delta = rng.normal(size=(pairs, dim)), rng.normal(size=(pairs, dim))
    vectors = np.concatenate([centre + gap * delta, centre - gap * delta, rng.normal(size=(10, dim))])
    concept = np.repeat(np.arange(2 * pairs), per)
    features = np.eye(2 * pairs)[concept] + noise * rng.normal(size=(len(concept), 2 * pairs))
    split = np.array((["train"] * (per - 10) + ["val"] * 5 + ["test"] * 5) * 2 * pairs)
    data = base.GroundingData(features.astype(np.float32), split, concept.astype(np.int64),
                              np.arange(len(concept), dtype=np.int64))
    return make_inputs(data, vectors)


def hierarchy_world(seed: int = 0, leaves: int = 12, dim: int = 8, per: int = 6):
    """Leaf words with images, and two hypernyms: every image is linked to its leaf and to the
    hypernym of its half (as map_images links ``dog`` and ``animal`` beside ``beagle``)."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(leaves + 2 + 5, dim))
    concept = np.repeat(np.arange(leaves), per)
    features = vectors[concept] @ rng.normal(size=(dim, 12)) + 0.3 * rng.normal(size=(len(concept), 12))
    split = np.array((["train"] * (per - 2) + ["val", "test"]) * leaves)
    images = np.arange(len(concept))
    hypernym = leaves + (concept >= leaves // 2)
    data = base.GroundingData(features.astype(np.float32), split,
                              np.concatenate([concept, hypernym]).astype(np.int64),
                              np.concatenate([images, images]).astype(np.int64))
    return make_inputs(data, vectors)


# --------------------------------------------------------------------------------------------
# The loss


def lse(*values: float) -> float:
    return math.log(sum(math.exp(v) for v in values))


def test_masked_info_nce_never_uses_another_positive_as_a_negative():
    # Words: 0 beagle, 1 dog (its hypernym), 2 cat. Image A: beagle + dog; image B: dog; image C: cat.
    logits = torch.tensor([[2.0, 1.0, 0.5],
                           [0.3, 1.5, -1.0],
                           [0.2, 0.7, 1.2]])
    positive = torch.tensor([[True, True, False],
                             [False, True, False],
                             [False, False, True]])
    (a0, a1, a2), (b0, b1, b2), (c0, c1, c2) = logits.tolist()
    # image -> word: a positive is ranked against the image's non-linked words only.
    i2w = [lse(a0, a2) - a0, lse(a1, a2) - a1,           # A: beagle and dog never each other's negative
           lse(b1, b0, b2) - b1,                          # B: dog against beagle and cat
           lse(c2, c0, c1) - c2]                          # C: cat against beagle and dog
    # word -> image: for each word, its images against the batch images not linked to it.
    w2i = [lse(a0, b0, c0) - a0,                          # beagle: A against B and C
           lse(a1, c1) - a1, lse(b1, c1) - b1,            # dog: A and B share it, never each other's negative
           lse(c2, a2, b2) - c2]                          # cat: C against A and B
    expected = (sum(i2w) + sum(w2i)) / (2 * 4)
    loss, hits = symmetric_loss(logits, positive)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert hits == pytest.approx(1.0)                     # every row's top word is one of its own

    # The hypernym's logit enters only its own pair's term: the gradient of the image -> word loss
    # with respect to logit (A, dog) is that of lse(a1, a2) - a1 alone; beagle's term adds nothing.
    total, count = masked_info_nce(logits, positive)
    assert count == 4 and total.item() == pytest.approx(sum(i2w), rel=1e-6)
    leaf = logits.clone().requires_grad_(True)
    masked_info_nce(leaf, positive)[0].backward()
    assert leaf.grad[0, 1].item() == pytest.approx(math.exp(a1) / math.exp(lse(a1, a2)) - 1, rel=1e-6)
    assert leaf.grad[0, 2].item() > 0 and leaf.grad[1, 0].item() > 0  # true negatives are pushed down


def test_per_image_loss_averages_each_rows_positives_first():
    # 3 images x 4 words: image 0 has three positives, image 1 one, image 2 two.
    logits = torch.tensor([[1.0, 0.5, -0.2, 0.3],
                           [0.1, 2.0, 0.4, -1.0],
                           [0.6, -0.3, 1.1, 0.8]])
    positive = torch.tensor([[True, True, True, False],
                             [False, True, False, False],
                             [False, False, True, True]])
    v = logits.tolist()

    def row_mean(values, pos):
        """Hand value of one row: mean over p in P of -log(e^s_p / (e^s_p + sum_{n not in P} e^s_n))."""
        negatives = [x for x, is_pos in zip(values, pos) if not is_pos]
        losses = [lse(x, *negatives) - x for x, is_pos in zip(values, pos) if is_pos]
        return sum(losses) / len(losses)

    pos = positive.tolist()
    i2w = [row_mean(v[r], pos[r]) for r in range(3)]
    w2i = [row_mean([v[r][c] for r in range(3)], [pos[r][c] for r in range(3)]) for c in range(4)]
    expected = (sum(i2w) / 3 + sum(w2i) / 4) / 2
    loss, _ = symmetric_loss(logits, positive, "per_image")
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # per_link weighs image 0's three links three times: another number on the same batch.
    per_link, _ = symmetric_loss(logits, positive, "per_link")
    assert per_link.item() != pytest.approx(loss.item(), rel=1e-3)


def test_per_image_and_per_link_agree_with_one_positive_per_row_and_column():
    logits = torch.tensor([[1.0, 0.2, -0.5], [0.3, 0.9, 0.1], [-0.2, 0.4, 1.5]])
    positive = torch.eye(3, dtype=torch.bool)
    assert symmetric_loss(logits, positive, "per_image")[0].item() == pytest.approx(
        symmetric_loss(logits, positive, "per_link")[0].item(), rel=1e-6)


def test_a_positive_without_negatives_costs_nothing():
    total, count = masked_info_nce(torch.tensor([[3.0, -2.0]]), torch.tensor([[True, True]]))
    assert total.item() == 0.0 and count == 2


# --------------------------------------------------------------------------------------------
# Training


def test_contrastive_beats_l2_when_words_differ_in_a_small_direction():
    from pipeline.models.params import L2Params
    from pipeline.models.l2 import fit as train_l2

    wins = []
    for seed in range(3):
        inputs = near_pairs_world(seed)
        data, vectors = inputs.data, inputs.vectors.vectors
        l2 = train_l2(data, vectors, L2Params(0.01, True, True))
        l2_p1 = base.validation_p1(l2.project(data.features), vectors, data, "cos", split="test")
        trained = train(inputs, ContrastiveParams(update_words=False, epochs=30, patience=0, batch_size=32,
                                                  lr=0.03), seed=seed)
        p1 = base.validation_p1(trained.projection.project(data.features), vectors, data, "cos", split="test")
        wins.append(p1 - l2_p1)
    assert min(wins) > 0, wins


def test_learns_a_hierarchy_without_fighting_the_hypernyms():
    inputs = hierarchy_world()
    data = inputs.data
    trained = train(inputs, ContrastiveParams(update_words=False, epochs=40, patience=0, batch_size=16, lr=0.01,
                                              init="normal"), seed=0)
    assert trained.log[-1].loss < trained.log[0].loss
    # P@1 among the mapped words (the leaf or its hypernym counts), far above the chance of 2/14.
    assert base.validation_p1(trained.projection.project(data.features), inputs.vectors.vectors, data, "cos",
                              split="test") >= 0.5


def test_frozen_words_stay_exactly_the_pretrained_ones():
    inputs = hierarchy_world()
    before = inputs.vectors.vectors.copy()
    trained = train(inputs, ContrastiveParams(update_words=False, epochs=3), seed=0)
    assert trained.word_vectors is None and trained.projection.words == "pretrained"
    assert np.array_equal(inputs.vectors.vectors, before)
    kept = trained.log[trained.kept_epoch - 1]
    assert kept.val_p1 == base.validation_p1(trained.projection.project(inputs.data.features), before,
                                             inputs.data, "cos")


def test_learnable_words_move_and_a_large_anchor_keeps_them_closer():
    inputs = hierarchy_world()
    pretrained = inputs.vectors.vectors.copy()
    mapped = inputs.data.mapped_words()
    unmapped = np.setdiff1d(np.arange(len(pretrained)), mapped)
    distance = {}
    for anchor in (0.0, 10.0):
        trained = train(inputs, ContrastiveParams(update_words=True, anchor=anchor, word_lr=0.05, epochs=5,
                                                  patience=0), seed=0)
        words = trained.word_vectors
        assert trained.projection.words == "own" and words.shape == pretrained.shape and words.dtype == np.float32
        assert np.array_equal(words[unmapped], pretrained[unmapped])  # only mapped words are learnt
        distance[anchor] = float(np.linalg.norm(words[mapped] - pretrained[mapped], axis=1).mean())
    assert distance[0.0] > 0
    assert distance[10.0] < distance[0.0]


def test_early_stopping_keeps_the_best_epoch():
    inputs = hierarchy_world()
    # A step far too large: val P@1 jumps around, so the best epoch is not the last.
    params = ContrastiveParams(update_words=True, epochs=12, patience=3, optimizer="sgd", lr=5.0, word_lr=5.0,
                               init="normal", stop_on="top1")
    trained = train(inputs, params, seed=0)
    scores = [entry.val_p1 for entry in trained.log]
    best = int(np.argmax(scores))
    assert trained.kept_epoch == best + 1
    assert len(scores) == params.epochs or len(scores) == best + 1 + params.patience
    assert scores[-1] < scores[best]
    assert base.validation_p1(trained.projection.project(inputs.data.features), trained.word_vectors,
                              inputs.data, "cos") == scores[best]


def test_no_early_stopping_keeps_the_last_epoch():
    trained = train(hierarchy_world(), ContrastiveParams(epochs=3, patience=0, stop_on="top1"), seed=0)
    assert [e.epoch for e in trained.log] == [1, 2, 3] and trained.kept_epoch == 3
    assert trained.summary["stopping_score"] == pytest.approx(round(trained.log[-1].val_p1, 4))


def test_deterministic_for_a_seed():
    inputs = hierarchy_world()
    params = ContrastiveParams(epochs=2, patience=0, init="normal", batch_size=8)
    first, second = train(inputs, params, seed=5), train(inputs, params, seed=5)
    assert np.array_equal(first.projection.projection, second.projection.projection)
    assert np.array_equal(first.word_vectors, second.word_vectors)
    other = train(inputs, params, seed=6)
    assert not np.array_equal(first.projection.projection, other.projection.projection)


def test_no_training_link_is_refused():
    inputs = hierarchy_world()
    data = inputs.data
    inputs.data = base.GroundingData(data.features, np.where(data.split == "train", "val", data.split),
                                     data.link_words, data.link_images)
    with pytest.raises(PipelineError, match="no link has a training image"):
        train(inputs, ContrastiveParams(epochs=1), seed=0)


@pytest.mark.parametrize("change, message", [
    ({"batch_size": 0}, r"params train.contrastive.batch_size: must be >= 1, got 0$"),
    ({"temperature": 0.0}, r"params train.contrastive.temperature: must be >= 0.01 \(.*\), got 0.0$"),
    ({"temperature": 0.001}, r"params train.contrastive.temperature: must be >= 0.01 \(.*\), got 0.001$"),
    ({"anchor": -1.0}, r"params train.contrastive.anchor: must be >= 0, got -1.0$"),
    ({"optimizer": "rmsprop"}, r"params train.contrastive.optimizer: 'rmsprop' is not one of 'adam', 'sgd'$"),
    ({"momentum": 1.0}, r"params train.contrastive.momentum: must be >= 0 and < 1, got 1.0$"),
    ({"multi_positive": "per_word"},
     r"params train.contrastive.multi_positive: 'per_word' is not one of 'per_link', 'per_image'$"),
    ({"sister_share": 1.5}, r"params train.contrastive.sister_share: must be >= 0 and <= 1, got 1.5$"),
    ({"stop_on": "loss"}, r"params train.contrastive.stop_on: 'loss' is not one of 'top1', 'pairs'$"),
    ({"feature_noise": -0.1}, r"params train.contrastive.feature_noise: must be >= 0, got -0.1$"),
])
def test_invalid_params_are_refused_in_one_line(change, message):
    with pytest.raises(PipelineError, match=message):
        checked(ContrastiveParams(**change), "train.contrastive")


def test_a_learnt_temperature_moves_and_a_fixed_one_stays_put():
    """``learn_temperature`` must reach the optimiser: the reported temperature leaves its start when learnt
    and is exactly the start when not."""
    inputs = hierarchy_world()
    common = dict(update_words=False, epochs=5, patience=0, batch_size=16, lr=0.05, temperature=0.5)
    learnt = train(inputs, ContrastiveParams(learn_temperature=True, **common), seed=0)
    fixed = train(inputs, ContrastiveParams(learn_temperature=False, **common), seed=0)
    assert fixed.summary["temperature"] == 0.5
    assert abs(learnt.summary["temperature"] - 0.5) > 0.01, learnt.summary


def test_training_never_touches_a_held_out_image():
    """Validation and test images must stay out of the training batches: with their features NaN, any batch
    that held one would turn the loss and then the projection into NaN."""
    inputs = hierarchy_world()
    data = inputs.data
    features = data.features.copy()
    features[data.split != "train"] = np.nan
    inputs.data = base.GroundingData(features, data.split, data.link_words, data.link_images)
    trained = train(inputs, ContrastiveParams(update_words=True, epochs=3, patience=0, batch_size=8), seed=0)
    assert np.isfinite(trained.projection.projection).all()
    assert np.isfinite(trained.word_vectors).all()
    assert all(np.isfinite(entry.loss) for entry in trained.log)


def test_multi_positive_reaches_training():
    """The hierarchy world gives images several links (word and hypernym), so the two averagings train apart."""
    inputs = hierarchy_world()
    common = dict(update_words=False, epochs=2, patience=0, batch_size=16)
    per_link = train(inputs, ContrastiveParams(multi_positive="per_link", **common), seed=0)
    per_image = train(inputs, ContrastiveParams(multi_positive="per_image", **common), seed=0)
    assert not np.allclose(per_link.projection.projection, per_image.projection.projection)


# --------------------------------------------------------------------------------------------
# Batches of sister synsets


def test_random_batches_are_the_permutation_drawn_before_sister_batches_existed():
    batches = Batches.build(hierarchy_world().data)
    order = batches.epoch_order(np.random.default_rng(3), 16, 0.0)
    np.testing.assert_array_equal(order, batches.train_images[np.random.default_rng(3).permutation(len(order))])


def test_the_taxonomy_order_keeps_each_hypernyms_images_together_and_each_leafs_images_together():
    inputs = hierarchy_world(leaves=12, per=6)
    batches = Batches.build(inputs.data)
    order = batches.taxonomy_order
    assert sorted(order.tolist()) == sorted(batches.train_images.tolist())
    leaf = order // 6  # hierarchy_world numbers images leaf by leaf
    half = leaf >= 6
    assert (np.diff(half.astype(int)) != 0).sum() == 1  # the two hypernyms' images: two runs
    assert (np.diff(leaf) != 0).sum() == 11  # each leaf's images: one run


def test_sister_batches_start_with_a_run_of_the_taxonomy_order():
    batches = Batches.build(hierarchy_world(leaves=12, per=6).data)
    position = {image: k for k, image in enumerate(batches.taxonomy_order)}
    order = batches.epoch_order(np.random.default_rng(0), 8, 0.5)
    assert len(order) == len(batches.train_images) and set(order) <= set(batches.train_images)
    for start in range(0, len(order) - 8 + 1, 8):
        run = [position[image] for image in order[start:start + 4]]
        assert run == list(range(run[0], run[0] + 4))


def test_sister_share_reaches_training():
    inputs = hierarchy_world()
    common = dict(update_words=False, epochs=2, patience=0, batch_size=16)
    random = train(inputs, ContrastiveParams(**common), seed=0)
    sisters = train(inputs, ContrastiveParams(sister_share=0.5, **common), seed=0)
    assert not np.allclose(random.projection.projection, sisters.projection.projection)


def test_feature_noise_has_the_asked_norm_and_draws_nothing_when_off():
    features = torch.zeros(4000, 64)
    torch.manual_seed(0)
    assert noisy(features, 0.0) is features
    untouched = torch.rand(1)
    torch.manual_seed(0)
    noise = noisy(features, 0.5)
    assert float(noise.norm(dim=1).mean()) == pytest.approx(0.5, rel=0.02)
    assert float(noise.std()) == pytest.approx(0.5 / 8, rel=0.02)
    torch.manual_seed(0)
    noisy(features, 0.0)
    assert torch.equal(torch.rand(1), untouched)  # no draw: the generator is where it was


def test_feature_noise_reaches_training_and_stays_seeded():
    inputs = hierarchy_world()
    common = dict(update_words=True, epochs=2, patience=0, batch_size=16)
    clean = train(inputs, ContrastiveParams(feature_noise=0.0, **common), seed=0)
    first, second = (train(inputs, ContrastiveParams(feature_noise=0.5, **common), seed=0) for _ in range(2))
    assert not np.allclose(clean.projection.projection, first.projection.projection)
    assert np.array_equal(first.projection.projection, second.projection.projection)


# --------------------------------------------------------------------------------------------
# Early stopping on the validation pairs


def test_the_expected_first_place_is_the_hypergeometric_share_of_draws_below():
    # 3 of 4 negatives below, 2 drawn: C(3,2)/C(4,2) = 3/6; fewer below than drawn: 0; all below: 1
    np.testing.assert_allclose(expected_first(np.array([3, 1, 4]), np.array([4, 4, 4]), 2), [0.5, 0, 1])
    # all 4 drawn when 9 are asked: first only when all 4 are below
    np.testing.assert_allclose(expected_first(np.array([4, 3]), np.array([4, 4]), 9), [1, 0])


def test_validation_pair_p1_by_hand():
    """Two val images scored against three mapped words (dot, word vectors the unit axes):

        image 0: 0.9 0.5 0.1   linked to word 0
        image 1: 0.2 0.25 0.3  linked to word 1      (a train image holds word 2's link)

    With 2 candidates (one negative): image -> word 1 (both negatives below) and 1/2 (0.2 below, 0.3 above);
    word -> image among the val images: word 0's other image scores 0.2 < 0.9: 1; word 1's other image 0.5 >
    0.25: 0. Mean (0.75 + 0.5) / 2. With 3 candidates (two negatives, one where only one exists):
    image -> word 1 and 0, word -> image 1 and 0: 0.5."""
    projected = np.array([[0.9, 0.5, 0.1], [0.2, 0.25, 0.3], [0.0, 0.0, 1.0]], dtype=np.float32)
    data = base.GroundingData(projected, np.array(["val", "val", "train"]), np.array([0, 1, 2]), np.array([0, 1, 2]))
    words = np.eye(3, dtype=np.float32)
    assert validation_pair_p1(projected, words, data, "dot", candidates=2) == pytest.approx(0.625)
    assert validation_pair_p1(projected, words, data, "dot", candidates=3) == pytest.approx(0.5)


def test_stop_on_reaches_training_and_the_summary_names_it():
    inputs = hierarchy_world()
    common = dict(update_words=False, epochs=6, patience=1, batch_size=16, lr=0.05)
    top1 = train(inputs, ContrastiveParams(stop_on="top1", **common), seed=0)
    pairs = train(inputs, ContrastiveParams(stop_on="pairs", **common), seed=0)
    assert top1.summary["stop_on"] == "top1" and pairs.summary["stop_on"] == "pairs"
    assert top1.summary["stopping_score"] == pytest.approx(round(top1.log[top1.kept_epoch - 1].val_p1, 4))
    projected = base.prepare_features(inputs.data.features, True, pairs.projection.center) @ pairs.projection.projection
    assert pairs.summary["stopping_score"] == pytest.approx(
        validation_pair_p1(projected, inputs.vectors.vectors, inputs.data, "cos"), abs=1e-4)


def test_each_epoch_shows_its_progress(capsys):
    train(hierarchy_world(), ContrastiveParams(epochs=2, patience=0), seed=0)
    err = capsys.readouterr().err
    assert "contrastive epoch 1/2" in err and "contrastive epoch 2/2" in err
