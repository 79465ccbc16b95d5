"""Sphinx extension for the book's HTML: each <script> once per page; every HTML writer for singlehtml.

sphinx-thebe 0.3.1 registers its inline configuration (``const THEBE_JS_URL = ...``) after the HTML
builder exists, and Sphinx 7.4 then writes it twice into every page; the second ``const`` throws
"Identifier 'THEBE_JS_URL' has already been declared" in the browser (sphinx-togglebutton's
``var togglebuttonSelector`` is doubled the same way, harmlessly). Identical scripts are dropped
here, page by page, before the template writes them.

Sphinx gives a builder the node writers registered under its own name and falls back to those of
its format only when there are none: an extension that registers a writer for ``singlehtml`` (the
PDF's builder) thereby hides every writer registered for ``html`` (sphinx-design's dropdowns and
tabs), and the single-page render fails on an unknown node. The ``html`` writers are copied under
``singlehtml`` where it has none of its own.
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


def _html_writers_for_singlehtml(app):
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node, writers in handlers.get("html", {}).items():
        single.setdefault(node, writers)


def setup(app):
    app.connect("html-page-context", _drop_repeated_scripts)
    app.connect("builder-inited", _html_writers_for_singlehtml)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
