"""``flowsim studio``: a local web page to edit a ``.flow`` file, see it drawn, and try what-ifs.

:func:`create_app` is the Starlette application (usable under any ASGI server);
``flowsim studio FILE`` runs it on uvicorn at ``127.0.0.1`` with a random token. The HTTP API
is documented in docs/studio.md.
"""

from __future__ import annotations

from flowsim.studio.app import create_app

__all__ = ["create_app"]
