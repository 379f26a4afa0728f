"""Small Sphinx fixes for the book's HTML (loaded through _config.yml's local_extensions).

- Jupyter Book 1 registers sphinx-thebe's inline configuration script twice on every page,
  so browsers report "Identifier 'THEBE_JS_URL' has already been declared". Keep one copy
  of each script.
"""


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


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
