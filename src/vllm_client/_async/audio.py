"""``client.audio``: speech to text (``/v1/audio/transcriptions`` and ``/v1/audio/translations``).

These routes exist on a server that serves a speech-to-text model (Whisper and the like);
such a server has no chat or completions. ``file`` is a path, the bytes, a binary file
object or ``(filename, bytes)``; it is sent as ``multipart/form-data`` with every other
argument as a form field (a path is read when the call is made, in the calling thread).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal, overload

from typing_extensions import Unpack

from .._protocol.audio import TranscriptionCall, TranslationCall, build_audio
from .._protocol.audio_types import AudioStreamDecoder, Transcription, Translation
from .._protocol.events import Text
from .._protocol.multipart import FileInput
from .streaming import AsyncStream

if TYPE_CHECKING:
    from .client import AsyncVllmClient

__all__ = ["AsyncAudio", "AsyncTranscriptionStream", "AsyncTranscriptions", "AsyncTranslations"]


class AsyncTranscriptionStream(AsyncStream[Any, Transcription]):
    """A streamed transcription or translation: ``CompletionStreamEvent`` events (``Text``,
    ``Finish``, ``Usage``, ``Done``), ``text_stream``, ``collect_text()``, ``final()``."""

    @property
    def text_stream(self) -> AsyncIterator[str]:
        """Only the text pieces, as they arrive."""
        return self._text()

    async def _text(self) -> AsyncIterator[str]:
        async for event in self:
            if event.__class__ is Text:
                yield event.text

    async def collect_text(self) -> str:
        """All the text (reads the stream to its end)."""
        parts = [piece async for piece in self._text()]
        return "".join(parts)


class AsyncAudioEndpoint:
    """What transcriptions and translations share: one multipart POST, streamed or not."""

    _kind = "transcription"

    def __init__(self, client: AsyncVllmClient) -> None:
        self._client = client

    async def _create(self, file: FileInput, stream: bool, params: Any) -> Transcription | AsyncTranscriptionStream:
        if not isinstance(stream, bool):
            raise TypeError(f"stream must be a bool, got {stream!r}")
        translation = self._kind == "translation"
        spec = build_audio(self._kind, file, params, stream=stream)
        client = self._client
        if not stream:
            data, timing = await client._request_json(spec)
            return (Translation if translation else Transcription)(data, timing)
        response, request_id, _, start = await client._send(spec)
        decoder = AudioStreamDecoder(translation=translation, request_id=request_id)
        return AsyncTranscriptionStream(response, decoder, timeout=client._core.timeout(spec), request_id=request_id,
                                        started=start)


class AsyncTranscriptions(AsyncAudioEndpoint):
    """``POST /v1/audio/transcriptions``."""

    @overload
    async def create(self, *, file: FileInput, stream: Literal[False] = False,
                     **params: Unpack[TranscriptionCall]) -> Transcription: ...

    @overload
    async def create(self, *, file: FileInput, stream: Literal[True],
                     **params: Unpack[TranscriptionCall]) -> AsyncTranscriptionStream: ...

    @overload
    async def create(self, *, file: FileInput, stream: bool,
                     **params: Unpack[TranscriptionCall]) -> Transcription | AsyncTranscriptionStream: ...

    async def create(self, *, file: FileInput, stream: bool = False,
                     **params: Unpack[TranscriptionCall]) -> Transcription | AsyncTranscriptionStream:
        """Transcribe ``file``. Every vLLM field is a keyword: ``language`` (ISO-639-1; None:
        detected, one more engine pass), ``prompt``, ``response_format`` ("json", "text" --
        which vLLM also answers as JSON -- "verbose_json" with ``segments``), ``temperature``,
        ``top_p``, ``seed``, ``hotwords``, ``timestamp_granularities``, ``vllm_xargs``...
        ``stream=True`` returns an :class:`AsyncTranscriptionStream` (usage included unless
        ``stream_include_usage=False``)."""
        return await self._create(file, stream, params)

    async def stream(self, *, file: FileInput, **params: Unpack[TranscriptionCall]) -> AsyncTranscriptionStream:
        """Same as ``create(stream=True)``."""
        result = await self._create(file, True, params)
        assert isinstance(result, AsyncTranscriptionStream)
        return result


class AsyncTranslations(AsyncAudioEndpoint):
    """``POST /v1/audio/translations`` (Whisper translates into English)."""

    _kind = "translation"

    @overload
    async def create(self, *, file: FileInput, stream: Literal[False] = False,
                     **params: Unpack[TranslationCall]) -> Translation: ...

    @overload
    async def create(self, *, file: FileInput, stream: Literal[True],
                     **params: Unpack[TranslationCall]) -> AsyncTranscriptionStream: ...

    @overload
    async def create(self, *, file: FileInput, stream: bool,
                     **params: Unpack[TranslationCall]) -> Translation | AsyncTranscriptionStream: ...

    async def create(self, *, file: FileInput, stream: bool = False,
                     **params: Unpack[TranslationCall]) -> Translation | AsyncTranscriptionStream:
        """Translate the speech in ``file``; the keywords of ``transcriptions.create`` but
        ``timestamp_granularities``. vLLM answers without usage."""
        result = await self._create(file, stream, params)
        assert isinstance(result, (Translation, AsyncTranscriptionStream))
        return result

    async def stream(self, *, file: FileInput, **params: Unpack[TranslationCall]) -> AsyncTranscriptionStream:
        """Same as ``create(stream=True)``."""
        result = await self._create(file, True, params)
        assert isinstance(result, AsyncTranscriptionStream)
        return result


class AsyncAudio:
    """``client.audio``: holds ``transcriptions`` and ``translations``."""

    def __init__(self, client: AsyncVllmClient) -> None:
        self.transcriptions = AsyncTranscriptions(client)
        self.translations = AsyncTranslations(client)
