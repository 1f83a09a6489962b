"""The model-card summary (contract rule 12): the first prose paragraph of a card, cleaned and bounded."""

import random

import pytest

from pocketai_pipeline.sync.card_summary import MAX_SUMMARY_CHARS, card_summary

FRONT_MATTER = """---
license: apache-2.0
base_model: google/gemma-3-1b-it
library_name: litert-lm
pipeline_tag: text-generation
tags:
- litert
- litert-lm
- on-device
---
"""


def test_the_limit_is_a_thousand_characters():
    assert MAX_SUMMARY_CHARS == 1000


@pytest.mark.parametrize(
    ("card", "summary"),
    [
        pytest.param(None, None, id="absent card"),
        pytest.param("", None, id="empty card"),
        pytest.param("   \n\n\t\n", None, id="only whitespace"),
        pytest.param(FRONT_MATTER, None, id="only front matter"),
        pytest.param(
            FRONT_MATTER + "\n# Gemma 3 1B for LiteRT\n\nGemma 3 1B converted to run on device with LiteRT-LM.\n",
            "Gemma 3 1B converted to run on device with LiteRT-LM.",
            id="front matter, title, prose",
        ),
        pytest.param(
            "---\nlicense: mit\n...\nA model.\n",
            "A model.",
            id="front matter closed by dots",
        ),
        pytest.param(
            "# Gemma 3\n\n## Model details\n\n### Usage\n",
            None,
            id="only headings",
        ),
        pytest.param(
            "Gemma 3 LiteRT\n==============\n\nSubtitle\n--------\n\nThe model, quantised to int4.\n",
            "The model, quantised to int4.",
            id="setext headings skipped",
        ),
        pytest.param(
            FRONT_MATTER
            + "# Whisper Tiny\n\n"
            "[![License](https://img.shields.io/badge/License-Apache_2.0-blue.svg)](https://opensource.org/licenses/Apache-2.0)"
            " [![HF](https://img.shields.io/badge/%F0%9F%A4%97-Model-yellow)](https://huggingface.co/openai/whisper-tiny)\n\n"
            "Whisper Tiny exported to `.tflite` for speech recognition on phones.\n",
            "Whisper Tiny exported to .tflite for speech recognition on phones.",
            id="badges-only paragraph skipped",
        ),
        pytest.param(
            "[![Build](https://img.shields.io/badge/build-passing-green)](https://ci.example.com) |"
            " [![Discord](https://img.shields.io/discord/1)](https://discord.gg/x) ·"
            " ![Stars](https://img.shields.io/github/stars/x/y)\n\n"
            "A depth estimation model.\n",
            "A depth estimation model.",
            id="badges with separators skipped",
        ),
        pytest.param(
            '<p align="center">\n  <img src="https://huggingface.co/x/resolve/main/banner.png" width="600">\n</p>\n\n'
            "MobileNet V3 for image classification, ready for LiteRT.\n",
            "MobileNet V3 for image classification, ready for LiteRT.",
            id="html paragraph block then prose",
        ),
        pytest.param(
            '<div align="center">\n\n# SmolLM2 LiteRT\n\n</div>\n\n<div>\n<b>Not prose either</b>\n</div>\n\n'
            "SmolLM2 135M Instruct as a LiteRT-LM bundle.\n",
            "SmolLM2 135M Instruct as a LiteRT-LM bundle.",
            id="div blocks skipped",
        ),
        pytest.param(
            '<img src="logo.png" width="100"> <img src="chart.png"> <br>\n\nThe actual description.\n',
            "The actual description.",
            id="paragraph of only inline html skipped",
        ),
        pytest.param(
            "A LiteRT port of [Gemma](https://ai.google.dev/gemma) by <https://example.com> and [the team][team].\n\n"
            "[team]: https://ai.google.dev\n",
            "A LiteRT port of Gemma by https://example.com and the team.",
            id="links become their text",
        ),
        pytest.param(
            "Detects faces ![diagram](https://example.com/d.png) in real time.\n",
            "Detects faces in real time.",
            id="inline image removed",
        ),
        pytest.param(
            "This is **bold**, __strong__, *em*, _em_, ~~gone~~ and `code` with <b>inline</b> <sup>html</sup>.\n",
            "This is bold, strong, em, em, gone and code with inline html.",
            id="markers and inline html removed",
        ),
        pytest.param(
            "Models &amp; tools &lt;3 &copy; Google, \\*not emphasis\\*.\n",
            "Models & tools <3 © Google, *not emphasis*.",
            id="entities and escapes",
        ),
        pytest.param(
            "- a list item\n- another\n\n1. ordered\n2. list\n\n"
            "| Model | Size |\n|---|---|\n| gemma | 1B |\n\n"
            "```python\nprint('code')\n```\n\n"
            "    indented code\n\n"
            "> Note: this is a quote.\n\n"
            "***\n\n"
            "After all of that, prose.\n",
            "After all of that, prose.",
            id="lists, table, code, quote, rule skipped",
        ),
        pytest.param(
            "| Model | Size |\n|---|---|\n| gemma | 1B |\n",
            None,
            id="a table is not prose",
        ),
        pytest.param(
            "> **Note**\n> This repository is gated.\n",
            None,
            id="only a quote",
        ),
        pytest.param(
            "First paragraph.\n\nSecond paragraph.\n",
            "First paragraph.",
            id="first prose paragraph wins",
        ),
        pytest.param(
            "A model   that\nwraps\n   across\tlines  \nand a hard break\\\nhere.\n",
            "A model that wraps across lines and a hard break here.",
            id="whitespace collapsed across line breaks",
        ),
        pytest.param(
            "---\r\nlicense: mit\r\ntags:\r\n- litert\r\n---\r\n# Title\r\n\r\nWindows line\r\nendings.\r\n",
            "Windows line endings.",
            id="crlf",
        ),
        pytest.param(
            "\ufeff---\nlicense: mit\n---\n\nStarts with a byte order mark.\n",
            "Starts with a byte order mark.",
            id="bom before front matter",
        ),
        pytest.param(
            "Nul\x00 characters are\x00 dropped.\x00\n",
            "Nul characters are dropped.",
            id="nuls removed",
        ),
        pytest.param(
            # Never closed, so (as on the Hub) not front matter: `---` is a rule, the YAML is text.
            "---\nlicense: apache-2.0\ntags:\n- litert\n\n# Title\n\nProse.\n",
            "license: apache-2.0 tags:",
            id="unclosed front matter is markdown",
        ),
        pytest.param(
            "Gemma is a family of lightweight, state-of-the-art open models from Google.\n",
            "Gemma is a family of lightweight, state-of-the-art open models from Google.",
            id="plain prose kept as is",
        ),
    ],
)
def test_card_summary(card, summary):
    assert card_summary(card) == summary


def test_a_long_paragraph_is_cut_at_a_word_with_the_ellipsis_within_the_limit():
    words = ("quantised", "on-device", "LiteRT", "model", "for", "Android", "and", "iOS")
    paragraph = " ".join(words[i % len(words)] for i in range(300))
    assert len(paragraph) > 1500

    summary = card_summary(FRONT_MATTER + "# Title\n\n" + paragraph + "\n")

    assert len(summary) <= 1000
    assert summary.endswith("…")
    kept = summary.removesuffix("…")
    assert paragraph.startswith(kept)
    assert paragraph[len(kept)] == " "  # the cut falls between two words
    assert len(kept) > 990  # and at the last word that fits, not much earlier


@pytest.mark.parametrize(
    ("paragraph", "summary"),
    [
        # 100 words end at 999 characters: exactly room for the ellipsis.
        pytest.param("abcdefghi " * 150, "abcdefghi " * 99 + "abcdefghi…", id="a word ends just before the ellipsis"),
        # The 90th word ends at 989 characters; the 91st would end at 1,000, leaving no room for the ellipsis.
        pytest.param("abcdefghij " * 100, "abcdefghij " * 89 + "abcdefghij…", id="the last word that fits"),
    ],
)
def test_the_cut_keeps_whole_words(paragraph, summary):
    assert card_summary(paragraph) == summary


def test_a_paragraph_of_exactly_the_limit_is_kept_whole():
    paragraph = ("abcd " * 200).strip() + "e"
    assert len(paragraph) == 1000
    assert card_summary(paragraph) == paragraph


def test_a_first_word_longer_than_the_limit_is_cut_inside_it():
    summary = card_summary("x" * 5000)
    assert summary == "x" * 999 + "…"


@pytest.mark.parametrize(
    "card",
    [
        pytest.param("".join("  " * depth + "- item\n" for depth in range(500)), id="deeply nested list"),
        pytest.param(">" * 5000 + " deep quote\n", id="deeply nested quote"),
        pytest.param("[" * 5000 + "x" + "](" * 5000, id="unbalanced links"),
        pytest.param("*_" * 5000 + "text" + "~~" * 5000, id="unbalanced emphasis"),
        pytest.param("| a | b |\n|---|---|\n" + "| 1 | 2 |\n" * 5000, id="huge table"),
        pytest.param(random.Random(12).randbytes(20000).decode("utf-8", errors="replace"), id="random bytes"),
        pytest.param(random.Random(34).randbytes(20000).decode("latin-1"), id="random latin-1"),
        pytest.param("---\n" * 1000, id="only rules"),
        pytest.param("<!-- unclosed comment\n\nand <div\n", id="unclosed html"),
        pytest.param("\x00" * 100, id="only nuls"),
    ],
)
def test_odd_cards_never_raise(card):
    summary = card_summary(card)
    assert summary is None or (isinstance(summary, str) and 0 < len(summary) <= 1000 and "\x00" not in summary)
