"""Small Sphinx fixes for the book's HTML (loaded through _config.yml's local_extensions).

- Jupyter Book 1 registers sphinx-thebe's inline configuration script twice on every page,
  so browsers report "Identifier 'THEBE_JS_URL' has already been declared". Keep one copy
  of each script.
- Sphinx numbers figures across the whole book (Fig. 1 ... Fig. 43). A printed book numbers
  them within the chapter: the third figure of notebooks/08_anomaly_detection is Fig. 8.3,
  the chapter's number being the two-digit prefix of the notebook's file name. Sphinx keeps
  the numbers in env.toc_fignumbers as tuples, which captions and {numref} join with dots,
  so renumbering that table after Sphinx fills it changes both.
- docutils writes the bibliography as <div role="list"> of entries with role
  "doc-biblioentry", a role that DPUB-ARIA 1.1 deprecated and that is no list item, so axe
  reports the list as missing its items (a critical ARIA failure). The entries become
  role="listitem".
- Interactive figures (aecore.interactive) load Vega, Vega-Lite and vega-embed from a CDN when
  shown in Colab. Here they come with the site: setting AECORE_FIGURES=html before the
  notebooks execute makes the figures' output HTML (which MyST-NB renders as it is, where it
  would skip the Vega-Lite mimetype), and each page's CDN script URLs are pointed at the copies
  that `make` fetches into book/_static/vega/ (a warning, so an error under -W, if a version
  is missing). The published page then makes no request to another host.
"""

import os
import re
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

CHAPTER_FILE = re.compile(r"(?:^|/)(\d+)_[^/]*$")  # notebooks/08_anomaly_detection -> 8
# aecore.interactive.SCRIPT_URLS, e.g.
# https://cdn.jsdelivr.net/npm/vega-lite@5.20.1/build/vega-lite.min.js
VEGA_SCRIPT = re.compile(r"https://cdn\.jsdelivr\.net/npm/(vega(?:-lite|-embed)?)@([0-9][0-9.]*)"
                         r"/build/\1\.min\.js")


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # inline scripts come with filename None or '': the same script either way
        key = (getattr(script, "filename", str(script)) or None,
               repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def _bibliography_entries_are_list_items(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def _serve_figure_scripts_locally(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if not body or "cdn.jsdelivr.net/npm/vega" not in body:
        return
    static = [Path(app.confdir, d) for d in app.config.html_static_path]

    def local(match):
        name, version = match.groups()
        path = f"vega/{name}-{version}/{name}.min.js"
        if not any((d / path).is_file() for d in static):
            logger.warning(f"an interactive figure needs {name} {version}, which is not in "
                           f"_static/{path}: `make` fetches the versions the Makefile names, "
                           "and aecore.interactive.VEGA_VERSIONS must name the same",
                           location=pagename, type="book_fixes", subtype="vega")
        return context["pathto"](f"_static/{path}", 1)

    context["body"] = VEGA_SCRIPT.sub(local, body)


def _number_figures_by_chapter(app, env):
    """After Sphinx's own numbering (an env-get-updated handler of priority 500): number each
    chapter's figures (and captioned tables, code blocks) 1, 2, 3 ... with the chapter's number
    as prefix. Returns the pages whose numbers changed, so that Sphinx rewrites them."""
    changed = []
    for docname, by_type in env.toc_fignumbers.items():
        match = CHAPTER_FILE.search(docname)
        if not match:
            continue
        chapter = int(match.group(1))
        renumbered = {}
        for figtype, numbers in by_type.items():
            in_page_order = sorted(numbers, key=numbers.get)  # Sphinx counts in page order
            renumbered[figtype] = {figure_id: (chapter, i)
                                   for i, figure_id in enumerate(in_page_order, start=1)}
        if renumbered != by_type:
            env.toc_fignumbers[docname] = renumbered
            changed.append(docname)
    return changed


def setup(app):
    os.environ["AECORE_FIGURES"] = "html"  # inherited by the kernels that execute notebooks
    app.connect("html-page-context", _serve_figure_scripts_locally)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("html-page-context", _bibliography_entries_are_list_items)
    app.connect("env-get-updated", _number_figures_by_chapter, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
