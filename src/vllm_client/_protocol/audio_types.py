"""Typed audio results and the audio stream decoder, over the raw JSON (like ``types``).

vLLM 0.32's answers (``speech_to_text/base/serving.py``): ``json`` and ``text`` are both
``{"text", "usage": {"type": "duration", "seconds"}}`` (``text`` is JSON too, not
text/plain); a translation has no usage; ``verbose_json`` adds ``language``, ``duration``,
``segments`` (``words`` is null). A stream is ``transcription.chunk`` (``translation.chunk``)
chunks with ``choices[0].delta.content``; the last content chunk carries ``finish_reason``,
then one ``choices: []`` chunk the token usage, then ``[DONE]``. Stream events are the
legacy completion events (``Text``, ``Finish``, ``Usage``, ``Done``): audio streams carry
nothing else.
"""

from __future__ import annotations

from typing import Any

from .events import CompletionStreamEventType, Done, Finish, Text
from .events import Usage as UsageEvent
from .stream_decoder import DEFAULT_MAX_EVENT_SIZE, _StreamDecoder
from .types import RequestTiming, Usage, _RawView

__all__ = ["AudioStreamDecoder", "AudioUsage", "Transcription", "TranscriptionSegment", "Translation"]


class AudioUsage(Usage):
    """What an audio answer cost: ``seconds`` of audio (``type == "duration"``, non-streamed
    transcriptions) or token counts (``prompt_tokens`` counts the audio's mel frames; streams)."""

    __slots__ = ()

    @property
    def type(self) -> str:
        return str(self.raw.get("type") or ("duration" if "seconds" in self.raw else "tokens"))

    @property
    def seconds(self) -> float | None:
        value = self.raw.get("seconds")
        return float(value) if value is not None else None

    def __repr__(self) -> str:
        if self.type == "duration":
            return f"AudioUsage(seconds={self.seconds})"
        return super().__repr__().replace("Usage(", "AudioUsage(", 1)


class TranscriptionSegment(_RawView):
    """One ``verbose_json`` segment: ``id``, ``start`` / ``end`` (seconds), ``text``, ``tokens``..."""

    __slots__ = ()

    @property
    def id(self) -> int:
        return int(self.raw.get("id") or 0)

    @property
    def start(self) -> float:
        return float(self.raw.get("start") or 0.0)

    @property
    def end(self) -> float:
        return float(self.raw.get("end") or 0.0)

    @property
    def text(self) -> str:
        return str(self.raw.get("text") or "")

    @property
    def tokens(self) -> list[int]:
        return list(self.raw.get("tokens") or ())

    def __repr__(self) -> str:
        return f"TranscriptionSegment(id={self.id}, start={self.start}, end={self.end}, text={self.text!r})"


class Transcription(_RawView):
    """A transcription: ``text``, ``usage`` (:class:`AudioUsage`), and with ``verbose_json``
    ``language``, ``duration`` and ``segments``; ``raw`` is the JSON as received."""

    __slots__ = ("timing",)

    def __init__(self, raw: dict[str, Any], timing: RequestTiming | None = None) -> None:
        self.raw = raw
        self.timing = timing

    @property
    def text(self) -> str:
        return str(self.raw.get("text") or "")

    @property
    def usage(self) -> AudioUsage | None:
        usage = self.raw.get("usage")
        return AudioUsage(usage) if isinstance(usage, dict) else None

    @property
    def language(self) -> str | None:
        return self.raw.get("language")

    @property
    def duration(self) -> float | None:
        value = self.raw.get("duration")
        return float(value) if value is not None else None

    @property
    def segments(self) -> list[TranscriptionSegment]:
        return [TranscriptionSegment(s) for s in self.raw.get("segments") or () if isinstance(s, dict)]

    @property
    def words(self) -> list[dict[str, Any]] | None:
        return self.raw.get("words")

    @property
    def finish_reason(self) -> str | None:
        """Why the text ended (streams only: vLLM's last content chunk says)."""
        return self.raw.get("finish_reason")

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(text={self.text!r}, usage={self.usage!r})"


class Translation(Transcription):
    """A translation (to English, for Whisper): ``text``; vLLM sends no usage for it."""

    __slots__ = ()


class _AudioStreamState:
    """``transcription.chunk`` / ``translation.chunk`` chunks -> events -> the final answer."""

    __slots__ = ("_finish", "_parts", "_result", "_top", "_usage", "token_chunks")

    def __init__(self, result: type[Transcription]) -> None:
        self._result = result
        self._parts: list[str] = []
        self._top: dict[str, Any] = {}
        self._usage: dict[str, Any] | None = None
        self._finish: tuple[str | None, Any] | None = None
        self.token_chunks = 0

    @property
    def decode_plain(self) -> None:
        """No typed fast path: audio streams are short, and their chunks are not chat chunks."""
        return None

    def feed_plain(self, chunk: Any, out: list[CompletionStreamEventType]) -> bool:
        raise NotImplementedError  # never called: decode_plain is None

    def feed(self, chunk: dict[str, Any]) -> list[CompletionStreamEventType]:
        out: list[CompletionStreamEventType] = []
        if not self._top:
            self._top = {k: chunk.get(k) for k in ("id", "object", "created", "model")}
        choices = chunk.get("choices") or ()
        for c in choices:
            index = c.get("index") or 0
            delta = c.get("delta") or {}
            text = delta.get("content") if isinstance(delta, dict) else None
            if text:
                self._parts.append(text)
                out.append(Text(text, index))
            finish = c.get("finish_reason")
            if finish is not None and self._finish is None:
                self._finish = (finish, c.get("stop_reason"))
                out.append(Finish(finish, c.get("stop_reason"), index))
        if any(e.__class__ is Text for e in out):
            self.token_chunks += 1
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = usage
            if not choices:
                out.append(UsageEvent(Usage(usage)))
        return out

    def end(self) -> list[CompletionStreamEventType]:
        return [Done()]

    def final(self) -> Transcription:
        raw: dict[str, Any] = {"text": "".join(self._parts), "usage": self._usage, **self._top}
        if self._finish is not None:
            raw["finish_reason"], raw["stop_reason"] = self._finish
        return self._result(raw)


class AudioStreamDecoder(_StreamDecoder[CompletionStreamEventType, Transcription]):
    """Bytes of a streamed transcription or translation -> ``Text`` / ``Finish`` / ``Usage`` /
    ``Done`` events; ``final()`` is a :class:`Transcription` (:class:`Translation`)."""

    __slots__ = ()

    def __init__(self, *, translation: bool = False, max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
                 request_id: str | None = None) -> None:
        state = _AudioStreamState(Translation if translation else Transcription)
        super().__init__(state, max_event_size=max_event_size, request_id=request_id)
