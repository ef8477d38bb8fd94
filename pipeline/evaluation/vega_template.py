"""The HTML template of ``dvc plots show`` with Vega, Vega-Lite and Vega-Embed inlined, so the page works offline.

DVC's default page loads the three libraries from a CDN (``cdn.jsdelivr.net``), so ``dvc_plots/index.html``
stays blank without a network. This module builds a page template from the libraries' npm packages
(``package.json`` / ``package-lock.json`` pin them; ``npm ci`` installs them into ``node_modules``):
each minified build is checked against the SHA-256 pinned here and inlined whole in its own
``<script>``, so the page DVC writes from the template works from ``file://`` wherever it lands.
``.dvc/config`` names the template (``plots.html_template``), so a plain ``dvc plots show`` uses it.

The template has DVC's ``{plot_divs}`` and ``{refresh_tag}`` placeholders but not ``{scripts}``, where DVC
would put its CDN ``<script>`` tags. DVC's plot divs call ``vegaEmbed('#id', spec)``; the template
wraps that function to draw with the SVG renderer (crisp, and its marks are in the DOM) and to leave
``data-vega-embed="rendered"`` or ``"failed"`` (with the error shown in the div) on each plot's div.

Run from the project root (``setup.sh`` does, after ``npm ci``)::

    python3 -m pipeline.evaluation.vega_template   # writes .dvc/offline_plots.html
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import PipelineError, run_stage
from pipeline.core.files import write_text


@dataclass(frozen=True)
class Library:
    """One npm package whose minified browser build the template inlines.

    Attributes
    ----------
    name : str
        npm package name.
    version : str
        Exact version, the one ``package.json`` pins.
    build : str
        The inlined file, relative to the package folder.
    sha256 : str
        Hex SHA-256 of that file.
    """

    name: str
    version: str
    build: str
    sha256: str

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


# The major versions of DVC 3's own page (vega 5, vega-lite 5, vega-embed 6; its plot templates use
# the Vega-Lite v5 schema), at their last releases. In load order: vega-lite needs vega, vega-embed both.
LIBRARIES = (
    Library("vega", "5.33.1", "build/vega.min.js",
            "463f3db6a40b20e9747b4ed38f37ed0add508838f9141b1cf8366784b07b30c8"),
    Library("vega-lite", "5.23.0", "build/vega-lite.min.js",
            "58c27358e26f2d319cf62f45bc17a4c8362f08645001df2ec8d341eee4097c7f"),
    Library("vega-embed", "6.29.0", "build/vega-embed.min.js",
            "12d02acfbe3ec59ef9a37dd4822a2e04e2961b5bbb671bbe661d2221715b99da"),
)
TEMPLATE_PATH = Path(".dvc/offline_plots.html")  # .dvc/config: plots.html_template = offline_plots.html
# Text that must not occur in an inlined library: it would end its <script> early, or DVC would replace it.
FORBIDDEN = ("</script", "<!--", "{plot_divs}", "{refresh_tag}", "{scripts}")

# Wraps DVC's vegaEmbed('#id', spec) calls (see the module docstring).
EMBED_WRAPPER = """\
(function () {
  var embed = window.vegaEmbed;
  window.vegaEmbed = function (target, spec, options) {
    var element = typeof target === "string" ? document.querySelector(target) : target;
    return embed(element, spec, Object.assign({renderer: "svg"}, options)).then(function (result) {
      element.setAttribute("data-vega-embed", "rendered");
      return result;
    }, function (error) {
      element.setAttribute("data-vega-embed", "failed");
      element.appendChild(document.createTextNode("plot not drawn: " + error));
      console.error("vega-embed failed for " + element.id + ": " + error);
    });
  };
})();"""

PAGE = """\
<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {{refresh_tag}}
    <title>DVC plots</title>
    <!-- Inlined by pipeline/evaluation/vega_template.py from node_modules (npm ci); no network needed. -->
{libraries}
    <script>
{wrapper}
    </script>
    <style>
        body {{ font-family: sans-serif; }}
        table {{ border-spacing: 15px; }}
        [data-vega-embed] {{ margin: 1em 0; }}
    </style>
</head>
<body>
    {{plot_divs}}
</body>
</html>
"""


def library_source(library: Library, node_modules: str | os.PathLike) -> str:
    """The text of ``library``'s build in ``node_modules``, after checking its version and SHA-256.

    Raises
    ------
    PipelineError
        The package is missing or at another version, or the file's checksum differs from the pin.
    """
    folder = Path(node_modules) / library.name
    try:
        installed = json.loads((folder / "package.json").read_text(encoding="utf-8"))["version"]
        data = (folder / library.build).read_bytes()
    except (OSError, ValueError, KeyError) as exc:
        raise PipelineError(f"{folder}: {library.label} not installed ({exc}); run `npm ci` in the project root") \
            from exc
    if installed != library.version:
        raise PipelineError(f"{folder}: version {installed} installed, {library.version} pinned; run `npm ci`")
    digest = hashlib.sha256(data).hexdigest()
    if digest != library.sha256:
        raise PipelineError(f"{folder / library.build}: sha256 {digest}, pinned {library.sha256}; "
                            "the package is not the pinned build (reinstall with `npm ci`)")
    text = data.decode("utf-8")
    found = [marker for marker in FORBIDDEN if marker in text.lower()]
    if found:
        raise PipelineError(f"{folder / library.build}: contains {', '.join(found)}, which cannot be inlined")
    return text


def page_template(node_modules: str | os.PathLike) -> str:
    """The HTML template for ``dvc plots show --html-template`` with every library of LIBRARIES inlined.

    Each library is a ``<script data-library="name@version" data-sha256="...">`` whose content is the
    build file byte for byte, so the page itself can be checked against the pins.
    """
    scripts = [f'    <script data-library="{lib.label}" data-sha256="{lib.sha256}">'
               f"{library_source(lib, node_modules)}</script>" for lib in LIBRARIES]
    return PAGE.format(libraries="\n".join(scripts), wrapper=EMBED_WRAPPER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--node-modules", default="node_modules", help="where `npm ci` installed the packages")
    parser.add_argument("--out", default=str(TEMPLATE_PATH), help="template to write (.dvc/config names it)")
    args = parser.parse_args()
    page = page_template(args.node_modules)
    write_text(args.out, page)
    print(f"vega_template: {args.out} ({len(page.encode('utf-8')) / 1e6:.2f} MB; "
          f"{', '.join(lib.label for lib in LIBRARIES)} inlined, sha256 checked)")


if __name__ == "__main__":
    run_stage(main)
