"""The policy console: a web page, served by the receiver itself, for writing and trying
policies (``receiver console``).

Stage: the edge (a second HTTP application beside the service). It consumes the policy
folder and what the page's editors hold; it produces the page, its static assets and a
small JSON API (``app.py`` routes it): the workspace (``workspace.py``), the checker's
diagnostics for in-memory texts (``checking.py``), a decision with its trace as data
(``deciding.py``), and saving a set that checks (``workspace.py``). ``auth.py`` holds
the token rules, ``bodies.py`` the request limits, ``headers.py`` the security headers,
``sources.py`` the validation of the files a request sends. docs/console.md describes it.
"""
