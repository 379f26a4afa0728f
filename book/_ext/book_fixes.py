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
"""

import re

CHAPTER_FILE = re.compile(r"(?:^|/)(\d+)_[^/]*$")  # notebooks/08_anomaly_detection -> 8


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
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("html-page-context", _bibliography_entries_are_list_items)
    app.connect("env-get-updated", _number_figures_by_chapter, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
