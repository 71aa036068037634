"""Tool calls written as text (Qwen/Hermes style) and the stream filter that holds them back."""

from __future__ import annotations

import pytest

from keel.models._textcalls import TextCallStreamFilter, parse_text_tool_calls

NAMES = {"get_weather", "get_time"}


def calls_of(text: str, names: set[str] = NAMES) -> list[tuple[str, dict[str, object]]]:
    return [(c.name, c.arguments) for c in parse_text_tool_calls(text, names)[1]]


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}',  # closing tag cut off
        '{"name": "get_weather", "arguments": {"city": "Paris"}}',
        '  {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}\n',  # arguments double-encoded
        '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```',
        '{"name": "get_weather", "parameters": {"city": "Paris"}}',
        '{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}',
    ],
    ids=["tagged", "unclosed-tag", "bare", "string-args", "fenced", "parameters-key", "openai-shaped"],
)
def test_one_call_in_the_usual_shapes(text: str):
    assert calls_of(text) == [("get_weather", {"city": "Paris"})]


def test_several_calls_tagged_or_bare_keep_their_order_and_get_unique_ids():
    tagged = (
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>\n'
        '<tool_call>{"name": "get_time", "arguments": {"city": "Oslo"}}</tool_call>'
    )
    bare = '{"name": "get_weather", "arguments": {"city": "Paris"}}\n{"name": "get_time", "arguments": {"city": "Oslo"}}'
    listed = f"[{bare.replace(chr(10), ',')}]"
    expected = [("get_weather", {"city": "Paris"}), ("get_time", {"city": "Oslo"})]
    for text in (tagged, bare, listed):
        assert calls_of(text) == expected
    _, calls = parse_text_tool_calls(tagged, NAMES)
    assert len({c.id for c in calls}) == 2


def test_prose_around_tagged_calls_is_kept_as_the_text():
    text = 'I will look.\n<tool_call>{"name": "get_time", "arguments": {}}</tool_call>\nOne moment.'
    rest, calls = parse_text_tool_calls(text, NAMES)
    assert rest == "I will look.\n\nOne moment."
    assert [(c.name, c.arguments) for c in calls] == [("get_time", {})]


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "send_email", "arguments": {"to": "x"}}',  # not an offered tool
        '{"name": "Paris", "country": "France"}',  # an answer with a name key
        '{"city": "Paris"}',
        '{"name": "get_weather", "arguments": [1, 2]}',  # arguments not an object
        '{"name": "get_weather", "arguments": "not json"}',
        '{"name": "get_weather", "arguments": {}} and then some prose',
        '{"name": "get_weather", "arguments": {}}\n{"name": "send_email", "arguments": {}}',  # all or nothing
        "The weather tool is called get_weather.",
        "<tool_call>not json at all</tool_call>",
        "",
    ],
)
def test_text_that_is_not_an_offered_call_stays_text(text: str):
    assert parse_text_tool_calls(text, NAMES) == (text, [])


def test_no_offered_tools_means_no_calls():
    text = '{"name": "get_weather", "arguments": {}}'
    assert parse_text_tool_calls(text, set()) == (text, [])


def feed_all(pieces: list[str]) -> tuple[str, TextCallStreamFilter]:
    f = TextCallStreamFilter()
    return "".join(f.feed(p) for p in pieces), f


def test_filter_passes_prose_through_at_once():
    shown, f = feed_all(["Hello ", "world", ", how are you?"])
    assert shown == "Hello world, how are you?"
    assert f.finish(found_calls=False) == ""


@pytest.mark.parametrize(
    "pieces",
    [
        ['{"na', 'me": "get_weather", "arguments": {}}'],
        ["  ", "<tool", '_call>{"name": "x"}'],
        ["``", '`json\n{"name": "x"}```'],
        ["[", '{"name": "x"}]'],
    ],
)
def test_filter_holds_what_starts_like_a_call(pieces: list[str]):
    shown, f = feed_all(pieces)
    assert shown == ""
    assert f.finish(found_calls=False) == "".join(pieces)


def test_filter_holds_from_a_tag_that_starts_mid_prose():
    shown, f = feed_all(["Let me check. <to", "ol_call>", '{"name": "get_time"}'])
    assert shown == "Let me check. "
    assert f.finish(found_calls=True) == ""


def test_filter_releases_a_partial_tag_that_turns_out_to_be_prose():
    for pieces in (["a <to", "uch of class>"], ["<", "b>bold</b>"]):
        shown, f = feed_all(pieces)
        assert shown == "".join(pieces)
        assert f.finish(found_calls=False) == ""
