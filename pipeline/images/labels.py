"""From a packaged image's label (file name, description, folders) to the WordNet noun synset it
shows: the label's words and phrases, the folders that anchor a sense, and the choice of synset."""

from __future__ import annotations

import re
from typing import Iterable

from nltk.corpus.reader.wordnet import Synset, WordNetCorpusReader

from pipeline.images.wordnet import ancestors

# Where a packaged image's folder (or GCompris bundle) says what kind of thing it shows, the
# label's senses under these synsets win: "crane" in vehicles/construction is the machine, in
# animals/birds the bird; "bass" in hobbies/music the instrument, in animals/fish the fish.
_ANIMAL = ("animal.n.01",)
_FOOD = ("food.n.01", "food.n.02", "plant_part.n.01")
_PLANT = ("plant.n.02", "plant_part.n.01", "fungus.n.01")
_ARTIFACT = ("artifact.n.01",)
FOLDER_ANCHORS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("animals", "amphibians", "apes", "aquatic", "bears", "birds", "bovines", "camel", "cats",
         "deer", "dinosaur", "dogs", "equines", "fish", "fishes", "insects", "lizards", "mammals",
         "marsupials", "rodents", "shellfish", "erase", "explore_farm_animals",
         "explore_world_animals"),
        _ANIMAL),
    **dict.fromkeys(("food", "fruit", "nuts", "vegetables", "spices", "dessert"), _FOOD),
    **dict.fromkeys(("plants", "trees", "mushrooms", "flowers"), _PLANT),
    **dict.fromkeys(("music", "brass", "percussion", "string", "wind"), ("musical_instrument.n.01",)),
    **dict.fromkeys(
        ("household", "dishes", "utensils", "electronics", "arttools", "tools", "clothes", "hats",
         "armor", "town", "roadsigns", "houses", "vehicles", "race", "emergency", "construction",
         "flight", "planes", "ship", "auto", "masstransit", "locomotive", "farming", "cycle",
         "sports", "medical", "ammunition", "toys", "others", "renewable", "plastic",
         "seasonal", "christmas", "easter", "halloween", "hanukkah", "newyears", "winter"),
        _ARTIFACT),
    "monuments": ("structure.n.01", "artifact.n.01"),
    "people": ("person.n.01", "body_part.n.01"),
    "military": ("artifact.n.01", "person.n.01"),
    "body_parts": ("body_part.n.01",),
    **dict.fromkeys(("space", "moon", "planets"), ("celestial_body.n.01",)),
    "naturalforces": ("phenomenon.n.01",),
    "chess": ("chess_piece.n.01",),
    "coins": ("coin.n.01",),
    "flags": ("flag.n.01",),
}

_STOPWORDS = frozenset(
    "a an the of and or in on at to for from with by as is are be its it this that these those "
    "his her their some one called made like very big small little old new".split()
)


def label_tokens(text: str) -> list[str]:
    """Split a file stem or a description into lower-case words (camelCase, digits, ``_-`` split)."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return [t for t in re.split(r"[^a-z]+", text.lower()) if t]


def _phrases(tokens: list[str]) -> list[str]:
    """All runs of ``tokens`` as WordNet lemma strings, longest first, rightmost first.

    English compounds end with their head noun (``apple_granny_smith``, ``a round tower``), so
    among runs of one length the rightmost is tried first. Runs that start or end with a
    stop word, and single words shorter than 3 letters, are left out.
    """
    runs = []
    for length in range(len(tokens), 0, -1):
        for start in reversed(range(len(tokens) - length + 1)):
            run = tokens[start:start + length]
            if run[0] in _STOPWORDS or run[-1] in _STOPWORDS or (length == 1 and len(run[0]) < 3):
                continue
            runs.append("_".join(run))
    return runs


def label_synset(
    wn: WordNetCorpusReader, name: str, description: str, folders: Iterable[str]
) -> tuple[Synset, str] | str:
    """Choose the noun synset a labelled image shows.

    Parameters
    ----------
    wn : WordNetCorpusReader
    name : str
        The image's file stem, e.g. ``apple_granny_smith`` or ``measuringTape2``.
    description : str
        An English description (Tux Paint's), or ``""``; only its first sentence is used.
    folders : iterable of str
        The image's folders, outermost first; those in :data:`FOLDER_ANCHORS` restrict senses.

    Returns
    -------
    (Synset, str) or str
        The synset and the phrase that matched it, or the reason why none was chosen.

    Notes
    -----
    Candidate phrases, in order: the whole description's first sentence, the whole name, then
    the runs of words of the name and of the description (:func:`_phrases`), stop words
    dropped. When a folder has anchors, they are tried from the innermost folder outwards and
    the first candidate with a sense under them wins (its first such sense: WordNet lists senses
    most frequent first); if no candidate has one, the image does not map. Without anchored
    folders, the first candidate that is a WordNet noun gets its first sense.
    """
    name_tokens = [t for t in label_tokens(name) if t not in _STOPWORDS]
    sentence = re.split(r"[.!?;:\u2014]", description, maxsplit=1)[0]
    description_tokens = [t for t in label_tokens(sentence) if t not in _STOPWORDS]
    candidates = list(dict.fromkeys(
        [p for p in ("_".join(description_tokens), "_".join(name_tokens)) if p]
        + _phrases(name_tokens) + _phrases(description_tokens)
    ))
    senses = [(phrase, wn.synsets(phrase, pos="n")) for phrase in candidates]
    senses = [(phrase, found) for phrase, found in senses if found]
    if not senses:
        return f"no WordNet noun in the label (tried {', '.join(candidates) or 'nothing'})"
    anchored = [folder for folder in folders if folder in FOLDER_ANCHORS]
    for folder in reversed(anchored):
        anchors = {wn.synset(a) for a in FOLDER_ANCHORS[folder]}
        for phrase, found in senses:
            for synset in found:
                if ancestors(synset) & anchors:
                    return synset, phrase
    if anchored:
        return (f"no sense of {', '.join(p for p, _ in senses)} is a kind of what its folders "
                f"{'/'.join(anchored)} hold")
    phrase, found = senses[0]
    return found[0], phrase
