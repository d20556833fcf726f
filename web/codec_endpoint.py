"""The codec endpoint the Temporal Web UI calls to show encrypted payloads: ops staff only.

The UI posts {"payloads": [...]} (protobuf JSON) with credentials and an X-Namespace header;
a browser cannot add that header cross-site without a CORS preflight this endpoint only
answers for the configured UI origin, which guards it against cross-site requests."""

from __future__ import annotations

from google.protobuf import json_format
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from web.auth import SessionSigner


def codec_routes(codec: PayloadCodec | None, signer: SessionSigner, ui_origin: str):  # type: ignore[no-untyped-def]
    def cors(response: Response) -> Response:
        response.headers["Access-Control-Allow-Origin"] = ui_origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Allow-Headers"] = "content-type,x-namespace"
        response.headers["Access-Control-Allow-Methods"] = "POST,OPTIONS"
        response.headers["Vary"] = "Origin"
        return response

    async def handle(request: Request) -> Response:
        if request.method == "OPTIONS":
            return cors(Response(status_code=204))
        who = signer.read(request)
        if who is None:
            return cors(JSONResponse({"error": "sign in as ops staff to decode payloads"}, status_code=401))
        if who.role not in ("ops", "admin"):
            return cors(JSONResponse({"error": f"{who.email} is not ops staff"}, status_code=403))
        if "x-namespace" not in request.headers:
            return cors(JSONResponse({"error": "X-Namespace header required"}, status_code=400))
        payloads = json_format.Parse(await request.body(), Payloads())
        if codec is not None:
            direction = request.path_params["direction"]
            converted = await (codec.decode if direction == "decode" else codec.encode)(list(payloads.payloads))
            payloads = Payloads(payloads=converted)
        return cors(JSONResponse(json_format.MessageToDict(payloads)))

    return handle
