"""What a word is, and English stopwords, shipped so that nothing needs nltk's data.

:func:`words` is the one word rule of the project (keywords, the answer prefix, the avg-gen
filter and fine-tuning answers all use it): Unicode letters and digits of any script,
casefolded, so "décor" stays "décor" and Chinese answers yield keywords.

The list is nltk's English stopword list (179 words, nltk >= 3.5), the one the InBedder paper
used to strip training answers; it is embedded here because nltk data cannot be downloaded
offline.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    """
    i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
    yourselves he him his himself she she's her hers herself it it's its itself they them their
    theirs themselves what which who whom this that that'll these those am is are was were be been
    being have has had having do does did doing a an the and but if or because as until while of
    at by for with about against between into through during before after above below to from up
    down in out on off over under again further then once here there when where why how all any
    both each few more most other some such no nor not only own same so than too very s t can
    will just don don't should should've now d ll m o re ve y ain aren aren't couldn couldn't
    didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn mightn't
    mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren weren't won won't
    wouldn wouldn't
    """.split()
)

# Scripts written without spaces between words: each character of them is one word, so that
# Chinese and Japanese answers yield tokens that do not depend on where a tokenizer cut them.
UNSPACED = (
    "\u3005-\u3007"  # 々 〆 〇
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK Unified Ideographs extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\U00020000-\U0003ffff"  # CJK extensions B and later, compatibility supplement
)
APOSTROPHES = "'\u2019"
"""Apostrophes kept inside a word ("don't", "l'ambiance"); the typographic one becomes "'"."""


@functools.cache
def _word_pattern() -> re.Pattern[str]:
    """The word rule as one regex, built on first use (the mark table takes ~0.1 s to list).

    A word is a run of letters, digits and combining marks (so "हिन्दी" and a decomposed "é"
    stay whole), optionally joined by inner apostrophes; underscores and punctuation separate
    words; each character of an unspaced script (``UNSPACED``) is a word of its own.
    """
    codes = [code for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code))[0] == "M"]
    runs: list[list[int]] = []
    for code in codes:
        if runs and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    marks = "".join(f"{chr(first)}-{chr(last)}" for first, last in runs)  # marks are never - ] \\ ^
    letter = f"(?:[^\\W_{UNSPACED}]|[{marks}])"
    return re.compile(f"[{UNSPACED}]|{letter}+(?:[{APOSTROPHES}]{letter}+)*")


def words(text: str) -> list[str]:
    """The words of ``text`` in any script, casefolded, for matching and counting.

    Text is NFKC-normalised (full-width and ligature forms become plain letters) and casefolded
    ("Straße" → "strasse", "ΟΔΟΣ" → "οδοσ"), so that two spellings of a word are one word.
    See ``_word_pattern`` for what a word is; Chinese and Japanese give one word per character.
    """
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", text).casefold())
    return [word.replace("\u2019", "'") for word in _word_pattern().findall(folded)]


def word_set(text: str) -> set[str]:
    """The words of ``text`` and the parts of its apostrophe words, for membership tests.

    An instruction that says "restaurant's" also rules out the generated word "restaurant"
    (tokenizers usually emit "restaurant" and "'s" as separate tokens).
    """
    found = set()
    for word in words(text):
        found.add(word)
        found.update(part for part in word.split("'") if part)
    return found


def content_words(text: str, extra_stopwords: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """:func:`words` of ``text`` without English stopwords and ``extra_stopwords`` (casefolded)."""
    return [w for w in words(text) if w not in ENGLISH_STOPWORDS and w not in extra_stopwords]


def singular(word: str) -> str:
    """A crude singular ("times" -> "time", not "glass" or "bus"), so answers that differ by a plural "s" match."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word
