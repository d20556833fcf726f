"""The codec endpoint the Temporal Web UI calls to show encrypted payloads: ops staff only.

The UI posts {"payloads": [...]} (protobuf JSON) with credentials and an X-Namespace header;
a browser cannot add that header cross-site without a CORS preflight this endpoint only
answers for the configured UI origin, which guards it against cross-site requests.

Every refusal is JSON (the UI is a program) with the CORS headers, so the UI can read it:
401/403 for who is asking, 400 for a body that is not the UI's payloads JSON, 422 for payloads
that cannot be decoded (sealed with a key this process does not hold, or tampered with)."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from payload_codec import KeyUnavailable
from service.refusals import Refused, Why
from web.auth import ConsoleAuth
from web.refusal_pages import refusal_response

DIRECTIONS = ("encode", "decode")


def codec_routes(codec: PayloadCodec | None, signer: ConsoleAuth, ui_origin: str) -> list[Route]:
    def cors(response: Response) -> Response:
        response.headers["Access-Control-Allow-Origin"] = ui_origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Allow-Headers"] = "content-type,x-namespace"
        response.headers["Access-Control-Allow-Methods"] = "POST,OPTIONS"
        response.headers["Vary"] = "Origin"
        return response

    def refused(request: Request, refusal: Refused) -> Response:
        return cors(refusal_response(request, refusal, as_json=True))

    def payloads_in(body: bytes) -> Payloads:
        try:
            return json_format.Parse(body, Payloads())
        except (json_format.ParseError, ValueError, TypeError, RecursionError) as err:
            raise Refused(
                Why.MALFORMED,
                'Expected the Temporal Web UI\'s payloads JSON: {"payloads": [{"metadata": {...}, "data": "<base64>"}]}.',
            ) from err

    async def handle(request: Request) -> Response:
        direction = request.path_params["direction"]
        if direction not in DIRECTIONS:
            return refused(request, Refused(Why.NOT_FOUND, "The codec endpoints are /codec/encode and /codec/decode."))
        if request.method == "OPTIONS":
            return cors(Response(status_code=204))
        who = signer.read(request)
        if who is None:
            return refused(
                request, Refused(Why.NOT_SIGNED_IN, "Sign in to the console as ops staff to decode payloads.")
            )
        if who.role not in ("ops", "admin"):
            return refused(request, Refused(Why.NOT_PERMITTED, f"{who.email} is not ops staff."))
        if "x-namespace" not in request.headers:
            return refused(
                request,
                Refused(Why.MALFORMED, "The X-Namespace header is required: only the Temporal Web UI calls this."),
            )
        try:
            payloads = payloads_in(await request.body())
            if codec is not None:
                convert = codec.decode if direction == "decode" else codec.encode
                try:
                    payloads = Payloads(payloads=await convert(list(payloads.payloads)))
                except KeyUnavailable as err:
                    raise Refused(Why.INVALID, str(err), {"payloads": str(err)}) from err
                except (InvalidTag, DecodeError, ValueError) as err:
                    raise Refused(
                        Why.INVALID,
                        "A payload could not be decoded: it was altered, or is not one this engine sealed.",
                        {"payloads": "cannot be decoded"},
                    ) from err
        except Refused as refusal:
            return refused(request, refusal)
        return cors(JSONResponse(json_format.MessageToDict(payloads)))

    return [Route("/codec/{direction:str}", handle, methods=["POST", "OPTIONS"])]
