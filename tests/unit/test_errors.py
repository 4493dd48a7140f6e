"""The exception tree of the contract, error_from_response over every status and body shape,
error_from_stream_frame, is_retryable, and pickling."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

import vllm_client
from vllm_client import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    ModelNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseParseError,
    ServiceUnavailableError,
    StreamError,
    StreamTimeoutError,
    ToolArgumentsError,
    UnprocessableEntityError,
    VllmError,
)
from vllm_client._errors import error_class, error_from_response, error_from_stream_frame

ALL_NAMES = [
    "VllmError", "APIError", "BadRequestError", "AuthenticationError", "PermissionDeniedError",
    "NotFoundError", "ModelNotFoundError", "ConflictError", "UnprocessableEntityError", "RateLimitError",
    "InternalServerError", "ServiceUnavailableError", "APIConnectionError", "APITimeoutError",
    "StreamTimeoutError", "StreamError", "ResponseParseError", "ToolArgumentsError",
]

OPENAI_BODY = (b'{"error":{"message":"max_tokens=5000 cannot be greater than max_model_len=2048.",'
               b'"type":"BadRequestError","param":"max_tokens","code":400}}')


def api(cls: type[APIError] = APIError, status: int = 500, **kw: Any) -> APIError:
    return cls("boom", status_code=status, **kw)


# -- importability and tree --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_NAMES)
def test_importable_from_package(name: str) -> None:
    cls = getattr(vllm_client, name)
    assert isinstance(cls, type)
    assert issubclass(cls, VllmError)
    assert issubclass(cls, Exception)
    assert name in vllm_client.__all__


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (APIError, VllmError),
        (BadRequestError, APIError),
        (AuthenticationError, APIError),
        (PermissionDeniedError, APIError),
        (NotFoundError, APIError),
        (ModelNotFoundError, NotFoundError),
        (ConflictError, APIError),
        (UnprocessableEntityError, APIError),
        (RateLimitError, APIError),
        (InternalServerError, APIError),
        (ServiceUnavailableError, InternalServerError),
        (APIConnectionError, VllmError),
        (APIConnectionError, ConnectionError),
        (APITimeoutError, APIConnectionError),
        (APITimeoutError, TimeoutError),
        (StreamTimeoutError, APITimeoutError),
        (StreamTimeoutError, TimeoutError),
        (StreamError, VllmError),
        (ResponseParseError, VllmError),
        (ToolArgumentsError, VllmError),
    ],
)
def test_subclass_relations(child: type, parent: type) -> None:
    assert issubclass(child, parent)


@pytest.mark.parametrize(
    ("cls", "not_parent"),
    [
        (StreamError, APIError),
        (APIConnectionError, APIError),
        (ResponseParseError, APIError),
        (NotFoundError, ModelNotFoundError),
        (InternalServerError, ServiceUnavailableError),
        (StreamError, APIConnectionError),
    ],
)
def test_not_subclass(cls: type, not_parent: type) -> None:
    assert not issubclass(cls, not_parent)


def test_isinstance_on_instances() -> None:
    assert isinstance(APITimeoutError("t"), TimeoutError)
    assert isinstance(APITimeoutError("t"), ConnectionError)
    assert isinstance(APIConnectionError("c"), ConnectionError)
    assert isinstance(api(ModelNotFoundError, 404), NotFoundError)
    assert isinstance(api(ServiceUnavailableError, 503), InternalServerError)


# -- error_from_response: status -> class ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, ServiceUnavailableError),
        (504, InternalServerError),
        (599, InternalServerError),
        (418, APIError),
        (405, APIError),
        (408, APIError),
    ],
)
def test_status_to_class(status: int, cls: type[APIError]) -> None:
    err = error_from_response(status, {}, b'{"error":{"message":"m","type":"T","param":null,"code":1}}')
    assert type(err) is cls
    assert err.status_code == status
    assert err.message == "m"
    assert error_class(status) is cls


# -- error_from_response: body shapes ----------------------------------------------------------------


def test_openai_error_object() -> None:
    err = error_from_response(400, {"x-request-id": "req-1"}, OPENAI_BODY)
    assert type(err) is BadRequestError
    assert err.message == "max_tokens=5000 cannot be greater than max_model_len=2048."
    assert err.error_type == "BadRequestError"
    assert err.param == "max_tokens"
    assert err.code == 400
    assert err.body == {"error": {"message": err.message, "type": "BadRequestError", "param": "max_tokens",
                                  "code": 400}}
    assert err.request_id == "req-1"


def test_error_string_shape() -> None:
    err = error_from_response(401, {}, b'{"error":"Unauthorized"}')
    assert type(err) is AuthenticationError
    assert err.message == "Unauthorized"
    assert err.error_type is None and err.param is None and err.code is None
    assert err.body == {"error": "Unauthorized"}


def test_detail_string_shape() -> None:
    err = error_from_response(404, {}, b'{"detail":"Not Found"}')
    assert type(err) is NotFoundError
    assert err.message == "Not Found"


def test_detail_validation_list() -> None:
    body = (b'{"detail":[{"type":"missing","loc":["body","messages"],"msg":"Field required","input":{}},'
            b'{"type":"int_type","loc":["body","n"],"msg":"Input should be a valid integer"}]}')
    err = error_from_response(422, {}, body)
    assert type(err) is UnprocessableEntityError
    assert "body.messages: Field required" in err.message
    assert "body.n: Input should be a valid integer" in err.message
    assert isinstance(err.body, dict) and isinstance(err.body["detail"], list)


def test_detail_list_of_strings_and_locless_items() -> None:
    err = error_from_response(422, {}, b'{"detail":["first problem",{"msg":"second"}]}')
    assert "first problem" in err.message
    assert "second" in err.message


def test_old_vllm_object_error_shape() -> None:
    body = (b'{"object":"error","message":"The model `x` does not exist.","type":"NotFoundError",'
            b'"param":null,"code":404}')
    err = error_from_response(404, {}, body)
    assert type(err) is ModelNotFoundError
    assert err.message == "The model `x` does not exist."
    assert err.error_type == "NotFoundError"
    assert err.code == 404


def test_old_vllm_shape_bad_request() -> None:
    body = b'{"object":"error","message":"bad temp","type":"BadRequestError","param":"temperature","code":400}'
    err = error_from_response(400, {}, body)
    assert type(err) is BadRequestError
    assert (err.message, err.param) == ("bad temp", "temperature")


def test_html_page_from_proxy() -> None:
    body = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n"
            b"</body>\r\n</html>\r\n")
    err = error_from_response(502, {"content-type": "text/html"}, body)
    assert type(err) is InternalServerError
    assert "502 Bad Gateway" in err.message
    assert "<" not in err.message and "\n" not in err.message
    assert err.is_retryable
    assert isinstance(err.body, str) and "nginx" in err.body


def test_huge_html_message_is_truncated() -> None:
    err = error_from_response(503, {}, b"<p>" + b"x" * 10_000 + b"</p>")
    assert len(err.message) <= 300
    assert type(err) is ServiceUnavailableError


@pytest.mark.parametrize(("status", "phrase"), [(503, "Service Unavailable"), (500, "Internal Server Error"),
                                                (404, "Not Found"), (599, "error")])
def test_empty_body(status: int, phrase: str) -> None:
    err = error_from_response(status, {}, b"")
    assert err.message == phrase
    assert err.body == ""
    assert err.error_type is None


def test_whitespace_body_falls_back_to_reason() -> None:
    assert error_from_response(500, {}, b"  \n").message == "Internal Server Error"


@pytest.mark.parametrize("body", [b"{not json", b"upstream connect error or disconnect/reset before headers",
                                  b"\xff\xfe garbage"])
def test_invalid_json_body(body: bytes) -> None:
    err = error_from_response(500, {}, body)
    assert type(err) is InternalServerError
    assert err.message == body.decode("utf-8", "replace").strip()
    assert err.body == body.decode("utf-8", "replace")


@pytest.mark.parametrize("body", [b"[1,2]", b'"just a string"', b"42", b"{}", b'{"foo":"bar"}'])
def test_json_without_known_shape(body: bytes) -> None:
    err = error_from_response(400, {}, body)
    assert type(err) is BadRequestError
    assert err.message  # never empty


def test_request_id_from_header_and_fallback() -> None:
    assert error_from_response(500, {"x-request-id": "from-header"}, b"").request_id == "from-header"
    assert error_from_response(500, {}, b"", request_id="ours").request_id == "ours"
    assert error_from_response(500, {"x-request-id": "srv"}, b"", request_id="ours").request_id == "srv"
    assert error_from_response(500, {}, b"").request_id is None


def test_headers_kept() -> None:
    err = error_from_response(429, {"retry-after": "3"}, b"")
    assert err.headers == {"retry-after": "3"}


# -- model-not-found detection ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"error":{"message":"The model `no-such` does not exist. Valid aliases: tiny.","type":"NotFoundError",'
        b'"param":"model","code":404}}',
        b'{"error":{"message":"The model `nope` does not exist.","type":"NotFoundError","param":null,"code":404}}',
        b'{"error":{"message":"anything","type":"NotFoundError","param":"model","code":404}}',
        b'{"error":{"message":"Model foo not found","type":"x","param":null,"code":404}}',
    ],
)
def test_model_not_found(body: bytes) -> None:
    err = error_from_response(404, {}, body)
    assert type(err) is ModelNotFoundError
    assert isinstance(err, NotFoundError)


@pytest.mark.parametrize(
    "body",
    [b'{"detail":"Not Found"}', b"", b'{"error":{"message":"Response with id \'resp_1\' not found.",'
                                      b'"type":"invalid_request_error","param":"response_id","code":404}}'],
)
def test_route_or_resource_not_found_is_not_model(body: bytes) -> None:
    err = error_from_response(404, {}, body)
    assert type(err) is NotFoundError


def test_model_message_on_other_status_keeps_status_class() -> None:
    body = b'{"error":{"message":"The model `x` does not exist.","type":"BadRequestError","param":"model","code":400}}'
    assert type(error_from_response(400, {}, body)) is BadRequestError


# -- str() -------------------------------------------------------------------------------------------


def test_str_shows_status_type_message_and_request_id() -> None:
    err = error_from_response(400, {"x-request-id": "rid-9"}, OPENAI_BODY)
    text = str(err)
    assert "400" in text
    assert "BadRequestError" in text
    assert "max_tokens=5000 cannot be greater" in text
    assert "rid-9" in text


def test_str_without_type() -> None:
    text = str(error_from_response(401, {}, b'{"error":"Unauthorized"}'))
    assert text.startswith("401")
    assert "Unauthorized" in text


def test_plain_errors_str_is_message() -> None:
    assert str(APIConnectionError("could not connect")) == "could not connect"
    assert str(StreamError("truncated")) == "truncated"
    assert APIConnectionError("x").message == "x"


# -- is_retryable ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (403, False), (404, False), (405, False), (409, False), (418, False),
     (422, False), (408, True), (429, True), (500, True), (502, True), (503, True), (504, True),
     (501, False), (505, False)],
)
def test_is_retryable_by_status(status: int, retryable: bool) -> None:
    err = error_from_response(status, {}, b"")
    assert err.is_retryable is retryable


def test_is_retryable_other_classes() -> None:
    assert APIConnectionError("x").is_retryable is True
    assert APIConnectionError("x", retryable=False).is_retryable is False
    assert APITimeoutError("x").is_retryable is True
    assert APITimeoutError("x", retryable=False).is_retryable is False
    assert StreamTimeoutError("x").is_retryable is False
    assert StreamError("x").is_retryable is False
    assert ResponseParseError("x").is_retryable is False
    assert ToolArgumentsError("x").is_retryable is False
    assert VllmError("x").is_retryable is False
    assert api(ModelNotFoundError, 404).is_retryable is False


# -- pickling ----------------------------------------------------------------------------------------

API_ATTRS = ("status_code", "message", "error_type", "param", "code", "body", "request_id", "headers")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 418, 422, 429, 500, 502, 503, 504])
def test_api_errors_pickle(status: int) -> None:
    err = error_from_response(status, {"x-request-id": "rid", "retry-after": "1"}, OPENAI_BODY)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    for attr in API_ATTRS:
        assert getattr(back, attr) == getattr(err, attr), attr
    assert str(back) == str(err)
    assert back.is_retryable == err.is_retryable
    assert back.args == err.args


@pytest.mark.parametrize("cls", [APIError, BadRequestError, AuthenticationError, PermissionDeniedError,
                                 NotFoundError, ModelNotFoundError, ConflictError, UnprocessableEntityError,
                                 RateLimitError, InternalServerError, ServiceUnavailableError])
@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_every_api_class_pickles(cls: type[APIError], protocol: int) -> None:
    err = cls("msg é", status_code=499, error_type="T", param="p", code={"k": 1}, body={"raw": [1]},
              request_id="r", headers={"a": "b"})
    back = pickle.loads(pickle.dumps(err, protocol=protocol))
    assert type(back) is cls
    for attr in API_ATTRS:
        assert getattr(back, attr) == getattr(err, attr), attr


@pytest.mark.parametrize(
    "err",
    [
        VllmError("base"),
        APIConnectionError("conn", retryable=False),
        APIConnectionError("conn"),
        APITimeoutError("timeout", retryable=False),
        StreamTimeoutError("stream timeout"),
        StreamTimeoutError("stream timeout", retryable=True),
        StreamError("truncated"),
        ResponseParseError("bad json"),
        ToolArgumentsError("bad args", arguments='{"a":', reason="EOF"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_other_errors_pickle(err: VllmError) -> None:
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert back.message == err.message
    assert str(back) == str(err)
    assert back.is_retryable == err.is_retryable
    assert vars(back) == vars(err)
    if isinstance(err, ToolArgumentsError):
        assert (back.arguments, back.reason) == ('{"a":', "EOF")


def test_tool_arguments_error_is_value_error() -> None:
    err = ToolArgumentsError("x", arguments="[]", reason="not an object")
    assert isinstance(err, ValueError)
    assert (err.arguments, err.reason) == ("[]", "not an object")


# -- error_from_stream_frame -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "cls", "status"),
    [
        (400, BadRequestError, 400),
        ("400", BadRequestError, 400),
        (401, AuthenticationError, 401),
        (404, NotFoundError, 404),
        (422, UnprocessableEntityError, 422),
        (429, RateLimitError, 429),
        (500, InternalServerError, 500),
        (503, ServiceUnavailableError, 503),
        (None, InternalServerError, 500),
        ("weird", InternalServerError, 500),
        (200, InternalServerError, 500),
        (0, InternalServerError, 500),
    ],
)
def test_stream_frame_code_to_class(code: Any, cls: type[APIError], status: int) -> None:
    frame = {"error": {"object": "error", "message": "context too long", "type": "BadRequestError",
                       "param": "input_tokens", "code": code}}
    err = error_from_stream_frame(frame, request_id="rid")
    assert type(err) is cls
    assert err.status_code == status
    assert err.message == "context too long"
    assert err.param == "input_tokens"
    assert err.code == code
    assert err.body == frame
    assert err.request_id == "rid"


def test_stream_frame_without_message() -> None:
    err = error_from_stream_frame({"error": {"code": 500}})
    assert type(err) is InternalServerError
    assert err.message
    err2 = error_from_stream_frame({"error": "overloaded"})
    assert err2.message == "overloaded"
    assert err2.status_code == 500
