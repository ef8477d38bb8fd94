"""Build the explorer: one static folder that opens from ``file://`` with no server and nothing online.

Type a word or a phrase and see the top images of a model by dot or cosine score, with each image's
split and whether links.csv links it to the word; click an image to see its top words.

What the page holds, per model (``data/model-<name>.js``):

* the projected image embeddings ``Projection.project(features)`` (the dot-score image matrix of
  :class:`~pipeline.evaluation.protocol.Matcher`) at ``precision`` (float16 by default), and their
  row norms in float32, by which the page divides for the cosine (as ``unit_rows`` does; a zero
  row keeps norm 1);
* each image's ``top_words`` mapped words by dot and by cosine, ranked in Python exactly as the
  evaluation scores image -> word (``Matcher.embeddings``, every mapped word a candidate).

Per word space (``data/words-<space>.js``, ``pretrained`` or a model that learnt its own vectors):
the vectors of the page's vocabulary, the ``vocabulary_size`` most frequent corpus words plus every
mapped word, at ``precision``; a learnt space holds only the rows that differ from the pretrained
ones (a model that learns the mapped words only changes about a thousand). The page scores a typed query against a model's image embeddings in
JavaScript: the query vector is the mean of its words' vectors (a single word: its vector), and the
cosine divides by both norms.

Shared (``data/page.js``): the vocabulary, the images (id, split, thumbnail, linked words) and the
settings. Thumbnails are JPEG files in ``thumbs/``. Data files are JavaScript that assigns into
``window.EXPLORER_DATA``, loaded with ``<script>`` tags: browsers refuse ``fetch`` of local files.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from gensim.models import KeyedVectors

from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path
from pipeline.evaluation.protocol import SCORES, Matcher, MatchingData, word_matrix
from pipeline.evaluation.report import thumbnail_name, write_thumbnail
from pipeline.explorer.params import ExploreParams

TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("pipeline.explorer", "templates"), autoescape=True,
                               undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                               trim_blocks=True, lstrip_blocks=True)
SCRIPT = resources.files("pipeline.explorer") / "static" / "explorer.js"


@dataclass(frozen=True)
class ModelView:
    """What the page holds of one model.

    Attributes
    ----------
    space : str
        The word space it is scored against: ``pretrained`` or its own name (vectors it learnt).
    images : ndarray (n_images, d) float32
        Projected image embeddings (the dot-score image matrix).
    norms : ndarray (n_images,) float32
        Row norms of ``images`` (1 for a zero row), which turn a dot score into the cosine.
    top_words : dict
        score -> (indices into the page vocabulary, scores), each (n_images, top_words), best first.
    """

    space: str
    images: np.ndarray
    norms: np.ndarray
    top_words: dict[str, tuple[np.ndarray, np.ndarray]]


def page_vocabulary(vectors: KeyedVectors, mapped: list[str], size: int) -> np.ndarray:
    """Indices into ``vectors`` of the page's words: the ``size`` most frequent and every mapped word.

    Most frequent first (corpus ``count``; equal counts in vocabulary order).
    """
    counts = np.array([vectors.get_vecattr(word, "count") for word in vectors.index_to_key], dtype=np.int64)
    order = np.argsort(-counts, kind="stable")
    chosen = np.zeros(len(order), dtype=bool)
    chosen[order[:size]] = True
    chosen[[vectors.key_to_index[word] for word in mapped]] = True
    return order[chosen[order]]


def top_words(images: np.ndarray, words: np.ndarray, k: int, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Each image row's ``k`` best word rows by inner product, best first (ties by word index), and their scores."""
    k = min(k, len(words))
    indices = np.empty((len(images), k), dtype=np.int64)
    scores = np.empty((len(images), k), dtype=np.float32)
    for start in range(0, len(images), chunk):
        block = images[start:start + chunk] @ words.T
        best = np.argsort(-block, axis=1, kind="stable")[:, :k]
        indices[start:start + chunk] = best
        scores[start:start + chunk] = np.take_along_axis(block, best, axis=1)
    return indices, scores


def model_view(matcher: Matcher, space: str, features: np.ndarray, mapped_rows: list[int] | np.ndarray,
               k: int) -> ModelView:
    """The page's data of one model, scored as the evaluation scores it.

    Parameters
    ----------
    matcher : Matcher
        The model's projection and the vectors of the mapped words (rows of ``MatchingData.words``).
    space : str
        Its word space (``pretrained`` or its name).
    features : ndarray
        The images' CNN features, rows as ``MatchingData.image_ids``.
    mapped_rows : sequence of int
        Page-vocabulary index of each mapped word.
    k : int
        Top words kept per image.
    """
    images = matcher.embeddings(features, "dot")[0]
    norms = np.linalg.norm(images, axis=1)
    ranked = {}
    for score in SCORES:
        indices, scores = top_words(*matcher.embeddings(features, score), k)
        ranked[score] = (np.asarray(mapped_rows, dtype=np.int64)[indices], scores)
    return ModelView(space, images, np.where(norms > 0, norms, 1).astype(np.float32), ranked)


def encode(array: np.ndarray, dtype: str) -> str:
    """Base64 of ``array``'s values as little-endian ``dtype``, row after row."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()).decode()


def index_dtype(size: int) -> str:
    """The smallest unsigned type that holds indices below ``size``."""
    return "uint16" if size <= 1 << 16 else "uint32"


def data_script(key: str, value: Any) -> str:
    """A data file: JavaScript that stores ``value`` (as JSON) under ``key`` of ``window.EXPLORER_DATA``."""
    return (f"(window.EXPLORER_DATA = window.EXPLORER_DATA || {{}})[{json.dumps(key)}] = "
            f"{json.dumps(value, sort_keys=True, separators=(',', ':'))};\n")


def write_explorer(
    out_dir: str | os.PathLike,
    data: MatchingData,
    vocabulary: list[str],
    spaces: dict[str, KeyedVectors],
    views: dict[str, ModelView],
    params: ExploreParams,
    default_model: str,
    image_root: str | os.PathLike = ".",
) -> Path:
    """Write the explorer folder ``out_dir`` (atomically, replacing it).

    Parameters
    ----------
    out_dir : path
        Gets index.html, explorer.js, data/ (page.js, model-<name>.js, words-<space>.js: ``pretrained``
        always, as the base of the learnt spaces) and thumbs/.
    data : MatchingData
        The images (all splits), mapped words and links, as evaluation indexes them.
    vocabulary : list of str
        The page's words (:func:`page_vocabulary`), every mapped word among them.
    spaces : dict
        Word space name -> its vectors (every ``ModelView.space``).
    views : dict
        Model name -> :func:`model_view`, in the page's order.
    params : ExploreParams
    default_model : str
        The model the page opens with.
    image_root : path
        Where relative image paths of ``data.paths`` start.

    Returns
    -------
    Path
        The written ``index.html``.
    """
    row = {word: i for i, word in enumerate(vocabulary)}
    missing = [word for word in data.words if word not in row]
    if missing:
        raise PipelineError(f"the explorer's vocabulary lacks the mapped word(s) {', '.join(missing[:5])}; "
                            "build it with page_vocabulary")
    indices = index_dtype(len(vocabulary))
    thumbs = [thumbnail_name(image_id) for image_id in data.image_ids]
    shown_spaces = ["pretrained", *sorted({view.space for view in views.values()} - {"pretrained"})]
    page = {
        "vocabulary": vocabulary,
        "mapped": sorted(row[word] for word in data.words),
        "images": {"ids": data.image_ids, "splits": data.splits, "thumbs": thumbs,
                   "links": [sorted(row[data.words[w]] for w in linked) for linked in data.image_words]},
        "models": [{"name": name, "space": view.space, "file": f"data/model-{name}.js"} for name, view in views.items()],
        "spaces": {space: f"data/words-{space}.js" for space in shown_spaces},
        "default_model": default_model, "default_score": params.default_score,
        "top_k": params.top_k, "dim": int(next(iter(views.values())).images.shape[1]),
        "precision": params.precision, "index_dtype": indices,
    }
    out = Path(out_dir)
    with atomic_path(out) as staged:
        (staged / "thumbs").mkdir(parents=True)
        (staged / "data").mkdir()
        for image_id, path, thumb in zip(data.image_ids, data.paths, thumbs):
            source = Path(path) if Path(path).is_absolute() else Path(image_root) / path
            write_thumbnail(source, staged / "thumbs" / thumb, params.thumbnail_px)
        (staged / "data" / "page.js").write_text(data_script("page", page), encoding="utf-8")
        base = word_matrix(spaces["pretrained"], vocabulary)
        for space in shown_spaces:
            matrix = word_matrix(spaces[space], vocabulary)
            changed = np.flatnonzero((matrix != base).any(axis=1))
            vectors = ({"vectors": encode(matrix, params.precision)} if space == "pretrained" else
                       {"base": "pretrained", "rows": encode(changed, indices),
                        "vectors": encode(matrix[changed], params.precision)})
            (staged / "data" / f"words-{space}.js").write_text(data_script(f"words:{space}", vectors),
                                                              encoding="utf-8")
        for name, view in views.items():
            model = {"images": encode(view.images, params.precision), "norms": encode(view.norms, "float32"),
                     "top_words": {score: {"k": int(words.shape[1]), "indices": encode(words, indices),
                                           "scores": encode(scores, params.precision)}
                                   for score, (words, scores) in view.top_words.items()}}
            (staged / "data" / f"model-{name}.js").write_text(data_script(f"model:{name}", model), encoding="utf-8")
        (staged / "explorer.js").write_text(SCRIPT.read_text(encoding="utf-8"), encoding="utf-8")
        html = TEMPLATES.get_template("explorer.html.j2").render(
            models=[(name, view.space) for name, view in views.items()], default_model=default_model,
            default_score=params.default_score, scores=SCORES, params=params, n_images=len(data.image_ids),
            n_mapped=len(data.words), n_vocabulary=len(vocabulary),
            splits={split: data.splits.count(split) for split in ("train", "val", "test")},
        )
        (staged / "index.html").write_text(html, encoding="utf-8")
    return out / "index.html"


def folder_size(path: str | os.PathLike) -> int:
    """Bytes of every file under ``path``."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
