"""Wire codecs: every wire a preset names has one, and each reads its own final payload.

The full request/response exchanges per server live in test_presets.py
(shape) and the real-server tests; here only what a new codec must satisfy.
"""

from __future__ import annotations

from engines.base import GenerationRequest, GenerationUsage
from engines.codecs import CODECS, codec_for
from engines.presets import PRESETS, Wire

REQUEST = GenerationRequest(prompt="<fim>a<hole>b<end>", prefix="a", suffix="b", max_tokens=5)

FINAL = {
    Wire.OPENAI: {"choices": [{"text": "x", "finish_reason": "length"}]},
    Wire.DEEPSEEK: {"choices": [{"text": "x", "finish_reason": "length"}]},
    Wire.LLAMA_INFILL: {"content": "x", "stop": True, "stop_type": "limit"},
    Wire.OLLAMA: {"response": "x", "done": True, "done_reason": "length"},
}


def test_every_wire_has_a_codec_and_every_preset_one_of_them() -> None:
    assert set(CODECS) == set(Wire) == set(FINAL)
    for preset in PRESETS.values():
        assert isinstance(codec_for(preset), CODECS[preset.wire])


def test_each_codec_reads_its_last_payload_as_the_end() -> None:
    for preset in PRESETS.values():
        codec = codec_for(preset)
        usage = GenerationUsage()
        assert codec.read(FINAL[preset.wire], usage) == "x"
        assert usage.finish_reason == "length", preset.name


def test_only_native_fim_presets_send_the_prefix_alone() -> None:
    for preset in PRESETS.values():
        body = codec_for(preset).body(REQUEST, "m", {})
        sent = body.get("prompt") or body.get("input_prefix")
        assert sent == ("a" if preset.native_fim else REQUEST.prompt), preset.name


def test_openai_choices_keep_their_index_and_other_wires_have_one() -> None:
    codec = codec_for(PRESETS["vllm"])
    usage = GenerationUsage()
    assert codec.read_choices({"choices": [{"index": 2, "text": "c"}]}, usage) == [(2, "c")]
    assert codec.read_choices({"choices": [{"index": 0, "text": "a"}]}, usage) == [(0, "a")]
    assert usage.choices == 3 and usage.finish_reason is None
    assert codec.read({"choices": [{"index": 1, "text": "b"}]}, usage) == ""  # not choice 0
    assert [p.name for p in PRESETS.values() if codec_for(p).takes_n] == [
        p.name for p in PRESETS.values() if p.wire in (Wire.OPENAI, Wire.DEEPSEEK)
    ]
    infill = codec_for(PRESETS["llama-server"])
    assert infill.read_choices(FINAL[Wire.LLAMA_INFILL], GenerationUsage()) == [(0, "x")]
