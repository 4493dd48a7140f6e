"""Message builders: roles, media parts, MIME sniffing, and the errors for bad input."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest

from vllm_client import ToolCall
from vllm_client.messages import assistant, audio, developer, image, system, tool_result, user, video

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 24
GIF = b"GIF89a" + b"\x00" * 24
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 16
BMP = b"BM" + b"\x00" * 30
TIFF = b"II*\x00" + b"\x00" * 24
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 16
MP3 = b"ID3\x03\x00" + b"\x00" * 20
FLAC = b"fLaC" + b"\x00" * 20
MP4 = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 16
WEBM = b"\x1a\x45\xdf\xa3" + b"\x00" * 8 + b"webm" + b"\x00" * 8


def data_url(part: dict[str, Any], key: str) -> tuple[str, bytes]:
    url = part[key]["url"]
    head, _, b64 = url.partition(",")
    assert head.startswith("data:") and head.endswith(";base64")
    return head[5:-7], base64.b64decode(b64)


# --------------------------------------------------------------------------- roles


def test_text_roles() -> None:
    assert system("be brief") == {"role": "system", "content": "be brief"}
    assert developer("rules") == {"role": "developer", "content": "rules"}
    assert user("hi") == {"role": "user", "content": "hi"}


def test_text_must_be_str() -> None:
    with pytest.raises(TypeError, match="str"):
        system(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs text"):
        user()


def test_assistant_forms() -> None:
    assert assistant("ok") == {"role": "assistant", "content": "ok"}
    tc = ToolCall({"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}})
    msg = assistant(tool_calls=[tc, {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}}],
                    reasoning="thought")
    assert msg["content"] is None
    assert msg["tool_calls"][0] == {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    assert msg["tool_calls"][1]["id"] == "call_2"
    assert msg["reasoning"] == "thought"
    assert "reasoning" not in assistant("x")


def test_tool_result() -> None:
    assert tool_result("call_1", "sunny") == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    tc = ToolCall({"id": "call_9", "function": {"name": "f", "arguments": "{}"}})
    msg = tool_result(tc, {"temp": 25, "city": "Zürich"})
    assert msg["tool_call_id"] == "call_9"
    assert msg["content"] == '{"temp": 25, "city": "Zürich"}'
    with pytest.raises(ValueError, match="tool_call_id"):
        tool_result("", "x")


# --------------------------------------------------------------------------- images


@pytest.mark.parametrize(("data", "mime"), [
    (PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp"),
    (BMP, "image/bmp"), (TIFF, "image/tiff"), (b"MM\x00*" + b"\x00" * 8, "image/tiff"),
])
def test_image_bytes_sniffed(data: bytes, mime: str) -> None:
    part = image(data)
    assert part["type"] == "image_url"
    assert data_url(part, "image_url") == (mime, data)


def test_image_bytearray_and_memoryview() -> None:
    assert data_url(image(bytearray(PNG)), "image_url") == ("image/png", PNG)
    assert data_url(image(memoryview(JPEG)), "image_url") == ("image/jpeg", JPEG)


def test_image_path_sniffed_from_bytes_not_extension(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"  # a PNG with the wrong name
    path.write_bytes(PNG)
    assert data_url(image(path), "image_url")[0] == "image/png"
    assert data_url(image(str(path)), "image_url")[0] == "image/png"


def test_image_extension_fallback(tmp_path: Path) -> None:
    path = tmp_path / "odd.webp"
    path.write_bytes(b"not a known header")
    assert data_url(image(path), "image_url")[0] == "image/webp"


def test_image_unknown_format_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello")
    with pytest.raises(ValueError, match=r"notes\.txt.*not a supported image"):
        image(path)
    with pytest.raises(ValueError, match="bytes given"):
        image(b"plain text")


def test_image_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    with pytest.raises(FileNotFoundError, match=r"image file not found.*nope\.png") as info:
        image(missing)
    assert info.value.filename == str(missing)


def test_image_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot read image file"):
        image(tmp_path)  # a directory
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        image(empty)


@pytest.mark.parametrize("url", [
    "https://example.com/cat.jpg", "http://host/x.png", "data:image/png;base64,AAAA", "file:///tmp/x.png",
])
def test_image_urls_pass_through(url: str) -> None:
    assert image(url) == {"type": "image_url", "image_url": {"url": url}}


def test_image_detail() -> None:
    assert image("https://e.com/a.png", detail="low")["image_url"] == {"url": "https://e.com/a.png", "detail": "low"}
    with pytest.raises(ValueError, match="detail"):
        image("https://e.com/a.png", detail="ultra")


class FakePilImage:
    """Duck-typed PIL image: only ``save(fp, format=...)``."""

    def __init__(self) -> None:
        self.formats: list[str] = []

    def save(self, fp: Any, format: Any = None, **params: Any) -> None:
        self.formats.append(format)
        fp.write(PNG)


def test_image_pil_duck_typed() -> None:
    img = FakePilImage()
    assert data_url(image(img), "image_url") == ("image/png", PNG)
    assert img.formats == ["PNG"]


def test_image_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="path, bytes or a URL"):
        image(42)  # type: ignore[arg-type]


def test_real_pil_image_if_installed() -> None:
    pil = pytest.importorskip("PIL.Image")
    img = pil.new("RGB", (2, 2), "red")
    mime, data = data_url(image(img), "image_url")
    assert mime == "image/png"
    assert pil.open(io.BytesIO(data)).size == (2, 2)


# --------------------------------------------------------------------------- audio / video


@pytest.mark.parametrize(("data", "fmt"), [(WAV, "wav"), (MP3, "mp3"), (b"\xff\xfb\x90\x00" * 4, "mp3"),
                                           (FLAC, "flac"), (b"OggS" + b"\x00" * 8, "ogg")])
def test_audio_bytes_become_input_audio(data: bytes, fmt: str) -> None:
    part = audio(data)
    assert part == {"type": "input_audio", "input_audio": {"data": base64.b64encode(data).decode(), "format": fmt}}


def test_audio_file_and_format_override(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp3"
    path.write_bytes(WAV)  # sniffed, not named
    assert audio(path)["input_audio"]["format"] == "wav"
    raw = tmp_path / "clip.raw"
    raw.write_bytes(b"\x01\x02\x03")
    with pytest.raises(ValueError, match=r"clip\.raw.*format="):
        audio(raw)
    assert audio(raw, format="pcm")["input_audio"]["format"] == "pcm"


def test_audio_url() -> None:
    assert audio("https://e.com/a.wav") == {"type": "audio_url", "audio_url": {"url": "https://e.com/a.wav"}}
    assert audio("data:audio/wav;base64,AAAA")["type"] == "audio_url"


def test_video_forms(tmp_path: Path) -> None:
    assert video("https://e.com/v.mp4") == {"type": "video_url", "video_url": {"url": "https://e.com/v.mp4"}}
    assert data_url(video(MP4), "video_url") == ("video/mp4", MP4)
    assert data_url(video(WEBM), "video_url")[0] == "video/webm"
    path = tmp_path / "clip.mov"
    path.write_bytes(b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 8)
    assert data_url(video(path), "video_url")[0] == "video/quicktime"
    with pytest.raises(FileNotFoundError, match="video file not found"):
        video(tmp_path / "missing.mp4")
    with pytest.raises(ValueError, match="not a recognised video"):
        video(b"????????????")


# --------------------------------------------------------------------------- user() with media


def test_user_with_media_builds_parts_in_order() -> None:
    msg = user("describe", images=[PNG, "https://e.com/b.jpg"], audio=WAV, video="https://e.com/v.mp4", detail="high")
    types = [p["type"] for p in msg["content"]]
    assert types == ["text", "image_url", "image_url", "input_audio", "video_url"]
    assert msg["content"][0] == {"type": "text", "text": "describe"}
    assert msg["content"][1]["image_url"]["detail"] == "high"
    assert msg["content"][2]["image_url"] == {"url": "https://e.com/b.jpg", "detail": "high"}


def test_user_single_image_and_prebuilt_part() -> None:
    part = image("https://e.com/a.png", detail="low")
    msg = user("what?", images=part)
    assert msg["content"][1] == part
    only = user(images=PNG)
    assert [p["type"] for p in only["content"]] == ["image_url"]
