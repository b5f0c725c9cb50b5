"""Text-to-speech for spoken calls (managers called about an alarm), with espeak-ng.

espeak-ng runs offline and ships as a Debian package (``espeak-ng``); it is run as
an asyncio subprocess, so synthesis never blocks the event loop. Its 22 050 Hz
output is resampled to 16 kHz, a rate the SIP supervisor takes directly.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import struct

import numpy as np

from gateway.media.pcm import to_pcm, to_samples

RATE = 16000
"""Sample rate of what :func:`synthesize` returns."""
VOICES = {"fr": "fr-fr", "en": "en"}
"""espeak-ng voice for each supported language."""
WORDS_PER_MINUTE = 150
"""A little slower than espeak's 175: phone lines and a startled listener."""
TIMEOUT = 20.0
MAX_TEXT = 2000
"""Characters; a spoken message longer than this would not be listened to."""

_FRENCH = re.compile(
    r"[àâçéèêëîïôûùüÿœ]|\b(le|la|les|un|une|des|est|et|pour|sur|dans|alarme|appuyez|"
    r"alerte|chute|agent|travailleur)\b",
    re.IGNORECASE,
)
_ENGLISH = re.compile(
    r"\b(the|a|an|is|and|for|on|in|alarm|press|alert|fall|worker|has|of)\b", re.IGNORECASE
)


class TtsError(RuntimeError):
    """Speech could not be synthesised (espeak-ng missing or failing, bad input)."""


def guess_language(text: str) -> str:
    """``"fr"`` or ``"en"``: messages carry no language tag, so count telling words."""
    french = len(_FRENCH.findall(text))
    return "fr" if french and french >= len(_ENGLISH.findall(text)) else "en"


def parse_wav(data: bytes) -> tuple[bytes, int]:
    """PCM and rate of a 16-bit mono WAV, tolerating espeak-ng's streamed header.

    espeak-ng writing to stdout cannot seek back, so its RIFF and data sizes are
    placeholders (0x7ffff...): the data runs to the end of the output.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TtsError("espeak-ng output is not a WAV file")
    offset, rate = 12, 0
    while offset + 8 <= len(data):
        chunk, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body = offset + 8
        if chunk == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if (fmt, channels, bits) != (1, 1, 16):
                raise TtsError(
                    f"espeak-ng gave format {fmt}, {channels} channels, {bits} bits;"
                    " expected 16-bit mono PCM"
                )
        elif chunk == b"data":
            if not rate:
                raise TtsError("espeak-ng WAV has no fmt chunk before its data")
            pcm = data[body : min(len(data), body + size)]
            return pcm[: len(pcm) // 2 * 2], rate
        offset = body + size + (size & 1)
    raise TtsError("espeak-ng WAV has no data chunk")


def resample_clip(pcm: bytes, src: int, dst: int) -> bytes:
    """Band-limited resampling of a whole short clip (FFT), any rate to any rate."""
    samples = to_samples(pcm)
    if src == dst or not len(samples):
        return pcm
    length = round(len(samples) * dst / src)
    spectrum = np.fft.rfft(samples)
    resized = np.zeros(length // 2 + 1, dtype=complex)
    keep = min(len(spectrum), len(resized))
    resized[:keep] = spectrum[:keep]
    out = np.fft.irfft(resized, n=length) * (length / len(samples))
    return to_pcm(out)


async def synthesize(text: str, language: str) -> tuple[bytes, int]:
    """Speak ``text`` in ``language`` (``fr`` or ``en``): s16le mono PCM and its rate.

    Raises :class:`TtsError` naming the problem: unknown language, empty or overlong
    text, espeak-ng not installed, failing or too slow.
    """
    voice = VOICES.get(language)
    if voice is None:
        raise TtsError(f"no voice for language {language!r}; choose from {', '.join(VOICES)}")
    if not text.strip():
        raise TtsError("nothing to say: the text is empty")
    if len(text) > MAX_TEXT:
        raise TtsError(f"text of {len(text)} characters is longer than {MAX_TEXT}")
    program = shutil.which("espeak-ng")
    if program is None:
        raise TtsError("espeak-ng is not installed (Debian package espeak-ng)")
    process = await asyncio.create_subprocess_exec(
        program, "-v", voice, "-s", str(WORDS_PER_MINUTE), "--stdout", "--", text,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(TIMEOUT):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise TtsError(f"espeak-ng took more than {TIMEOUT:.0f} s") from None
    if process.returncode != 0:
        detail = err.decode(errors="replace").strip() or "no message"
        raise TtsError(f"espeak-ng failed with status {process.returncode}: {detail}")
    pcm, rate = parse_wav(out)
    if not pcm:
        raise TtsError("espeak-ng produced no audio")
    return resample_clip(pcm, rate, RATE), RATE
