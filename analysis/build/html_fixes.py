"""Sphinx extension for the book's HTML: each <script> once per page.

sphinx-thebe 0.3.1 registers its inline configuration (``const THEBE_JS_URL = ...``) after the HTML
builder exists, and Sphinx 7.4 then writes it twice into every page; the second ``const`` throws
"Identifier 'THEBE_JS_URL' has already been declared" in the browser (sphinx-togglebutton's
``var togglebuttonSelector`` is doubled the same way, harmlessly). Identical scripts are dropped
here, page by page, before the template writes them.
"""


def _drop_repeated_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # an inline script's filename is None or "" depending on how it was registered
        key = (str(getattr(script, "filename", script) or ""),
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
