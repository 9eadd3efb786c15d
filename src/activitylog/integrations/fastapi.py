"""FastAPI: the Starlette middleware, and a dependency giving each endpoint its recorder.

.. code-block:: python

    audit = FastAPIActivityLog(log, actor=..., org=...)
    audit.install(app)

    @app.post("/leads", status_code=201)
    async def create_lead(body: LeadIn, recorder: Recorder = Depends(audit.dependency)):
        lead = await save(body)
        await recorder.record("lead.created", target=Target("lead", lead.id, lead.name))
"""

from __future__ import annotations

try:
    import fastapi
except ImportError as exc:  # pragma: no cover - exercised in a process without FastAPI
    from ._common import missing

    raise missing("FastAPI", "fastapi") from exc

from .starlette import (
    ActivityLogMiddleware,
    Recorder,
    StarletteActivityLog,
    default_actor,
    default_api_key,
    default_org,
)


class FastAPIActivityLog(StarletteActivityLog):
    """:class:`~activitylog.integrations.starlette.StarletteActivityLog` plus FastAPI glue."""

    def install(self, app: fastapi.FastAPI) -> None:
        """Add the middleware to ``app``."""
        app.add_middleware(ActivityLogMiddleware, audit=self)

    def dependency(self, request: fastapi.Request) -> Recorder:
        """``Depends(audit.dependency)``: the request's :class:`Recorder`."""
        return self.recorder(request)


__all__ = [
    "ActivityLogMiddleware",
    "FastAPIActivityLog",
    "Recorder",
    "StarletteActivityLog",
    "default_actor",
    "default_api_key",
    "default_org",
]
