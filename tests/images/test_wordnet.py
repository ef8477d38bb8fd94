"""WordNet 3.0 loading, wnid <-> synset, hyponym closure and word coverage."""

from __future__ import annotations

import nltk
import pytest

from pipeline.images import wordnet
from pipeline.core.errors import PipelineError


def _available() -> bool:
    try:
        nltk.data.find("corpora/wordnet")
        return True
    except LookupError:
        return (wordnet.SYSTEM_WORDNET / "data.noun").is_file()


needs_wordnet = pytest.mark.skipif(
    not _available(),
    reason="WordNet 3.0 not installed (apt-get install wordnet-base wordnet-sense-index)",
)


@pytest.fixture(scope="session")
def wn(tmp_path_factory):
    if not _available():
        pytest.skip("WordNet 3.0 not installed (apt-get install wordnet-base wordnet-sense-index)")
    return wordnet.load_wordnet(None, tmp_path_factory.mktemp("nltk_data"))


def test_lexnames_has_45_numbered_lines():
    lines = wordnet.lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3"
    assert lines[3] == "03\tnoun.Tops\t1"
    assert lines[44] == "44\tadj.ppl\t3"


@needs_wordnet
def test_wnid_synset_both_ways(wn):
    assert wordnet.wnid_of(wn.synset("dog.n.01")) == "n02084071"
    assert wordnet.wnid_of(wn.synset("tench.n.01")) == "n01440764"
    assert wordnet.synset_of(wn, "n02084071") == wn.synset("dog.n.01")
    assert wordnet.synset_of(wn, "n01440764") == wn.synset("tench.n.01")
    assert wordnet.synset_of(wn, "n01440765") is None
    assert wordnet.synset_of(wn, "dog") is None
    with pytest.raises(ValueError):
        wordnet.wnid_of(wn.synset("run.v.01"))


@needs_wordnet
def test_hyponym_closure_includes_instances(wn):
    dogs = wordnet.hyponym_closure(wn.synset("dog.n.01"))
    assert wn.synset("dog.n.01") in dogs
    assert wn.synset("poodle.n.01") in dogs
    assert wn.synset("cat.n.01") not in dogs
    towers = wordnet.hyponym_closure(wn.synset("tower.n.01"))
    assert wn.synset("eiffel_tower.n.01") in towers  # an instance hyponym
    assert wn.synset("tower.n.01") in wordnet.ancestors(wn.synset("eiffel_tower.n.01"))


@needs_wordnet
def test_words_covering_matches_the_closure(wn):
    tench, poodle = "n01440764", wordnet.wnid_of(wn.synset("poodle.n.01"))
    covering = wordnet.words_covering(wn, [tench, poodle])
    assert covering["dog"] == {poodle}
    assert covering["tench"] == {tench}
    assert covering["entity"] == {tench, poodle}
    assert "domestic_dog" not in covering and "domestic" not in covering  # multiword lemma left out
    for word, wnids in covering.items():
        for wnid in wnids:
            image = wordnet.synset_of(wn, wnid)
            assert any(image in wordnet.hyponym_closure(s) for s in wn.synsets(word, pos="n")
                       if word in [l.lower() for l in s.lemma_names()])
    assert set(wordnet.words_covering(wn, [tench], vocabulary={"fish", "dog"})) == {"fish"}


@needs_wordnet
def test_an_image_of_an_instance_is_covered_by_the_words_of_its_class(wn):
    eiffel_tower = wordnet.wnid_of(wn.synset("eiffel_tower.n.01"))  # an instance of tower.n.01, no hypernym
    covering = wordnet.words_covering(wn, [eiffel_tower])
    assert covering["tower"] == covering["structure"] == covering["entity"] == {eiffel_tower}


@pytest.mark.skipif(not (wordnet.SYSTEM_WORDNET / "data.noun").is_file(), reason="no system WordNet files")
def test_dict_directory_is_copied_with_generated_lexnames(tmp_path):
    source = tmp_path / "dict"
    source.mkdir()
    for item in wordnet.SYSTEM_WORDNET.iterdir():
        if item.is_file():
            (source / item.name).write_bytes(item.read_bytes())
    reader = wordnet.load_wordnet(source, tmp_path / "cache")
    copy = tmp_path / "cache" / "corpora" / "wordnet"
    assert (copy / "lexnames").read_text() == wordnet.lexnames_text()
    assert not (copy / "data.noun").is_symlink()
    assert reader.synset("dog.n.01").offset() == 2084071


def test_missing_wordnet_dir_is_one_clear_error(tmp_path):
    with pytest.raises(PipelineError, match="no WordNet data.noun there; install it"):
        wordnet.load_wordnet(tmp_path / "nowhere", tmp_path / "cache")


def test_an_nltk_data_directory_is_read_from_its_corpora_wordnet_folder(tmp_path):
    if not (wordnet.SYSTEM_WORDNET / "data.noun").is_file():
        pytest.skip("Debian's WordNet 3.0 not installed (apt-get install wordnet-base)")
    nltk_data = tmp_path / "nltk_data"
    wordnet.build_nltk_copy(wordnet.SYSTEM_WORDNET, nltk_data)
    reader = wordnet.load_wordnet(nltk_data, tmp_path / "cache")
    assert reader.synset("dog.n.01").offset() == 2084071
    assert not (tmp_path / "cache").exists()  # read in place: the copy has its lexnames


def test_a_wordnet_other_than_3_0_is_one_clear_error():
    class WordNet31:
        def get_version(self):
            return "3.1"

    with pytest.raises(PipelineError, match=r"^nltk's wordnet corpus: WordNet 3\.1, but ImageNet wnids need "
                                            r"WordNet 3\.0; install it"):
        wordnet._checked(WordNet31(), "nltk's wordnet corpus")
