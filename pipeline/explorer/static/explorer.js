// The explorer page of pipeline.explorer.build. index.html loads data/page.js; a model's data files are loaded by
// <script> tags added when the model is first shown (a page opened from file:// may not fetch() local files).
// A typed word or phrase is scored here against the model's image embeddings; an image's top words were ranked
// in Python. Data reaches the page through textContent and attributes only, never as HTML.
"use strict";
(function () {
  const DATA = window.EXPLORER_DATA;
  const page = DATA.page;
  const $ = (id) => document.getElementById(id);
  const form = $("controls"), queryInput = $("query"), modelSelect = $("model"), scoreSelect = $("score");
  const splitSelect = $("split"), status = $("status"), grid = $("grid"), detail = $("detail");
  const SPLITS = {all: null, train: ["train"], val: ["val"], test: ["test"], heldout: ["val", "test"]};
  const SPLIT_NAMES = {all: "all splits", train: "train split", val: "val split", test: "test split",
                       heldout: "held-out (val + test)"};
  const images = page.images;
  const nImages = images.ids.length;
  const vocabularyRow = new Map(page.vocabulary.map((word, row) => [word, row]));
  const modelInfo = new Map(page.models.map((model) => [model.name, model]));
  let selected = null;  // index of the image in the panel
  let generation = 0;  // the latest render wins

  // float16 bit pattern -> value
  const HALF = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const exponent = (h >> 10) & 31, fraction = h & 1023;
    const value = exponent === 0 ? fraction * 2 ** -24
      : exponent === 31 ? (fraction ? NaN : Infinity) : (1 + fraction / 1024) * 2 ** (exponent - 15);
    HALF[h] = h & 0x8000 ? -value : value;
  }
  const READERS = {
    float16: [2, (view, at) => HALF[view.getUint16(at, true)]],
    float32: [4, (view, at) => view.getFloat32(at, true)],
    uint16: [2, (view, at) => view.getUint16(at, true)],
    uint32: [4, (view, at) => view.getUint32(at, true)],
  };

  /** Base64 of little-endian values of `dtype` -> Float32Array (floats) or Uint32Array (indices). */
  function decode(base64, dtype) {
    const text = atob(base64);
    const raw = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) raw[i] = text.charCodeAt(i);
    const [size, read] = READERS[dtype];
    const view = new DataView(raw.buffer);
    const out = dtype.startsWith("float") ? new Float32Array(raw.length / size) : new Uint32Array(raw.length / size);
    for (let i = 0; i < out.length; i++) out[i] = read(view, i * size);
    return out;
  }

  const scripts = new Map();
  function load(file) {
    if (!scripts.has(file)) {
      scripts.set(file, new Promise((resolve, reject) => {
        const tag = document.createElement("script");
        tag.src = file;
        tag.onload = resolve;
        tag.onerror = () => reject(new Error(`cannot load ${file}; rebuild the explorer (dvc repro explore)`));
        document.head.appendChild(tag);
      }));
    }
    return scripts.get(file);
  }

  const decoded = new Map();
  function once(key, make) {
    if (!decoded.has(key)) decoded.set(key, make());
    return decoded.get(key);
  }

  /** The vocabulary's vectors in word space `space` (loaded): a learnt space stores the rows it changed. */
  function wordVectors(space) {
    return once(`words:${space}`, () => {
      const raw = DATA[`words:${space}`];
      const vectors = decode(raw.vectors, page.precision);
      if (!raw.base) return vectors;
      const full = Float32Array.from(wordVectors(raw.base));
      decode(raw.rows, page.index_dtype).forEach((row, i) => {
        full.set(vectors.subarray(i * page.dim, (i + 1) * page.dim), row * page.dim);
      });
      return full;
    });
  }

  /** The decoded word vectors, image embeddings, norms and top words of model `name`. */
  async function modelData(name) {
    const info = modelInfo.get(name);
    await Promise.all([info.file, page.spaces.pretrained, page.spaces[info.space]].map(load));
    const words = wordVectors(info.space);
    const model = once(`model:${name}`, () => {
      const raw = DATA[`model:${name}`];
      const top = {};
      for (const [score, t] of Object.entries(raw.top_words)) {
        top[score] = {k: t.k, indices: decode(t.indices, page.index_dtype), scores: decode(t.scores, page.precision)};
      }
      return {images: decode(raw.images, page.precision), norms: decode(raw.norms, "float32"), top};
    });
    return {words, ...model};
  }

  /** Vocabulary rows of the typed words, and the words outside the vocabulary. */
  function parse(text) {
    const tokens = text.toLowerCase().split(/\s+/).filter(Boolean);
    return {rows: tokens.filter((t) => vocabularyRow.has(t)).map((t) => vocabularyRow.get(t)),
            unknown: tokens.filter((t) => !vocabularyRow.has(t))};
  }

  /** Every image's score against the mean of the vectors of `rows`: dot, or cosine (divided by both norms). */
  function queryScores(model, rows, score) {
    const d = page.dim, query = new Float64Array(d);
    for (const row of rows) for (let j = 0; j < d; j++) query[j] += model.words[row * d + j];
    let norm = 0;
    for (let j = 0; j < d; j++) { query[j] /= rows.length; norm += query[j] * query[j]; }
    norm = Math.sqrt(norm) || 1;
    const scores = new Float64Array(nImages);
    for (let i = 0; i < nImages; i++) {
      let dot = 0;
      for (let j = 0, at = i * d; j < d; j++) dot += model.images[at + j] * query[j];
      scores[i] = score === "cos" ? dot / (model.norms[i] * norm) : dot;
    }
    return scores;
  }

  function splitBadge(split) {
    const badge = document.createElement("span");
    badge.className = `split ${split}`;
    badge.textContent = split;
    return badge;
  }

  function figure(image, rank, score, linkedWords) {
    const fig = document.createElement("figure");
    Object.assign(fig.dataset, {image: String(image), imageId: images.ids[image], split: images.splits[image],
                                score: score.toFixed(4), linked: linkedWords.length ? "1" : "0"});
    if (linkedWords.length) fig.classList.add("linked");
    if (image === selected) fig.classList.add("selected");
    fig.title = images.ids[image] + (linkedWords.length ? `\nlinked: ${linkedWords.join(", ")}` : "");
    const box = document.createElement("div");
    box.className = "box";
    const img = document.createElement("img");
    img.src = `thumbs/${images.thumbs[image]}`;
    img.alt = images.ids[image];
    img.loading = "lazy";
    box.append(img);
    const caption = document.createElement("figcaption");
    caption.append(`${rank}. ${score.toFixed(3)}`);
    const marks = document.createElement("figcaption");
    marks.append(splitBadge(images.splits[image]));
    if (linkedWords.length) marks.append(` ✓ ${linkedWords.join(", ")}`);
    fig.append(box, caption, marks);
    fig.addEventListener("click", () => showImage(image));
    return fig;
  }

  function fail(message) {
    status.textContent = message;
    status.className = "error";
  }

  function writeHash() {
    const state = new URLSearchParams({q: queryInput.value.trim(), model: modelSelect.value,
                                       score: scoreSelect.value, split: splitSelect.value});
    history.replaceState(null, "", `#${state}`);
  }

  function readHash() {
    const state = new URLSearchParams(location.hash.slice(1));
    const set = (select, value) => { if ([...select.options].some((o) => o.value === value)) select.value = value; };
    if (state.has("q")) queryInput.value = state.get("q");
    set(modelSelect, state.get("model"));
    set(scoreSelect, state.get("score"));
    set(splitSelect, state.get("split"));
  }

  /** The grid of the typed query's top images for the chosen model, score and split. */
  async function render() {
    const token = ++generation;
    const name = modelSelect.value, score = scoreSelect.value, split = splitSelect.value;
    writeHash();
    status.className = "";
    status.textContent = "Loading…";
    let model;
    try {
      model = await modelData(name);
    } catch (error) {
      if (token === generation) fail(error.message);
      return;
    }
    if (token !== generation) return;
    const {rows, unknown} = parse(queryInput.value);
    grid.replaceChildren();
    const left = unknown.length ? `; not in the vocabulary, left out: ${unknown.join(", ")}` : "";
    if (!rows.length) {
      if (unknown.length) fail(`${unknown.join(", ")}: not in the page's vocabulary (the most frequent words and ` +
                               "every mapped word)");
      else status.textContent = `Type a word or phrase; ${page.mapped.length} mapped words are suggested.`;
    } else {
      const scores = queryScores(model, rows, score);
      const keep = SPLITS[split];
      const candidates = [];
      for (let i = 0; i < nImages; i++) if (!keep || keep.includes(images.splits[i])) candidates.push(i);
      candidates.sort((a, b) => scores[b] - scores[a] || a - b);
      const wanted = new Set(rows);
      const linkedTo = (image) => [...new Set(images.links[image].filter((r) => wanted.has(r)))]
        .map((r) => page.vocabulary[r]);
      const linkedCount = candidates.filter((i) => linkedTo(i).length).length;
      const shown = candidates.slice(0, page.top_k);
      const linkedShown = shown.filter((i) => linkedTo(i).length).length;
      grid.append(...shown.map((image, r) => figure(image, r + 1, scores[image], linkedTo(image))));
      const words = rows.map((r) => page.vocabulary[r]);
      const phrase = rows.length > 1 ? ` (mean of the vectors of ${words.join(", ")})` : "";
      status.textContent = `"${words.join(" ")}"${phrase}: top ${shown.length} of ${candidates.length} images ` +
        `(${SPLIT_NAMES[split]}) by ${name}, ${score} score; links.csv links ${linkedShown} of them to the ` +
        `query (${linkedCount} of the ${candidates.length})${left}`;
      Object.assign(grid.dataset, {query: words.join(" "), model: name, score, split});
    }
    if (selected !== null) await showImage(selected);
    document.body.dataset.rendered = String(token);
  }

  /** The panel of image `image`: its split, linked words and top words by the chosen model and score. */
  async function showImage(image) {
    selected = image;
    const name = modelSelect.value, score = scoreSelect.value;
    const model = await modelData(name);
    for (const fig of grid.children) fig.classList.toggle("selected", Number(fig.dataset.image) === image);
    const linked = new Set(images.links[image]);
    $("detail-image").src = `thumbs/${images.thumbs[image]}`;
    $("detail-image").alt = images.ids[image];
    $("detail-id").textContent = images.ids[image];
    const badge = $("detail-split");
    badge.className = `split ${images.splits[image]}`;
    badge.textContent = images.splits[image];
    $("detail-links").textContent = [...linked].map((r) => page.vocabulary[r]).sort().join(", ") || "none";
    $("detail-heading").textContent = `Top words: ${name}, ${score} score`;
    const top = model.top[score];
    const list = $("detail-words");
    list.replaceChildren();
    for (let r = 0; r < top.k; r++) {
      const row = top.indices[image * top.k + r];
      const item = document.createElement("li");
      if (linked.has(row)) item.className = "linked";
      const word = document.createElement("button");
      word.type = "button";
      word.textContent = page.vocabulary[row];
      word.addEventListener("click", () => { queryInput.value = page.vocabulary[row]; render(); });
      item.append(word, ` ${top.scores[image * top.k + r].toFixed(3)}`);
      list.append(item);
    }
    detail.hidden = false;
    Object.assign(detail.dataset, {imageId: images.ids[image], model: name, score});
  }

  const suggestions = $("mapped-words");
  for (const row of page.mapped) {
    const option = document.createElement("option");
    option.value = page.vocabulary[row];
    suggestions.append(option);
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); render(); });
  for (const select of [modelSelect, scoreSelect, splitSelect]) select.addEventListener("change", render);
  readHash();
  render();
})();
