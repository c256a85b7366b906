"""POST /explain: why each row gets its class, and the single changes that would flip it."""

from __future__ import annotations

import orjson
from fastapi import Request, Response

from app.api.deps import data_plane_of, settings_of
from app.api.inputs import REQUEST_BODY, answered_by, read_inputs
from app.api.prediction import call_of, rows_refused
from app.api.routing import RouterWithHead
from app.data_plane import Refusal
from app.errors import JSON_MEDIA_TYPE
from app.schemas.explain import ExplainResponse

router = RouterWithHead(tags=["explanation"])


@router.post("/explain", responses=answered_by(ExplainResponse), openapi_extra=REQUEST_BODY)
async def explain_rows(request: Request) -> Response:
    """Explain each row's prediction exactly, with the same body and errors as `/predict`.

    Per row and class: the exact Shapley values of the predicted probability over the six
    features (interventional, with the training data as background), which add up with the
    base value to the probability; and every single-feature change that flips the predicted
    class, with the new class and its probability.
    """
    data_plane = data_plane_of(request)
    inputs = await read_inputs(request, settings_of(request))
    outcome = await data_plane.explain(call_of(request, "explain", "v1"), inputs)
    if isinstance(outcome, Refusal):
        raise rows_refused(outcome.errors)
    body = {"explanations": outcome.explanations, "version": outcome.version}
    return Response(orjson.dumps(body), media_type=JSON_MEDIA_TYPE)
