"""Words for explanations in scripts written without spaces (Chinese, Japanese).

The project's word rule (:func:`inbedder.stopwords.words`) makes each Chinese or Japanese character
a word, so that token matching does not depend on a tokenizer's cuts; but a keyword or a name
made of single characters names nothing ("服务" → "服", "务"). Explanations segment such runs
into words instead: with ``rjieba`` (Chinese) and ``janome`` (Japanese) when installed
(``pip install 'inbedder[cjk]'``), else as overlapping character bigrams ("服务很慢" → "服务",
"务很", "很慢"), which keep every two-character word whole. Spaced scripts (Korean, English,
…) keep the word rule as it is.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Callable

from inbedder.stopwords import UNSPACED, content_words, words

_RUN = re.compile(f"[{UNSPACED}]+")
_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff]")
# Function words a segmenter leaves as words of their own: particles, auxiliaries, degree adverbs.
CJK_STOPWORDS = frozenset(
    "的 了 很 太 是 在 也 都 就 还 又 吗 呢 吧 啊 着 过 和 与 及 或 而 这 那 有 被 把 得 地 非常 比较 "
    "が の を に は へ と で も や か な だ た て です ます ない する いる ある なる こと もの よう".split()
)
_CHINESE_TAGS_DROPPED = ("x", "u", "p", "c", "r", "y", "e", "o", "w", "d", "zg", "m", "q")
_JAPANESE_KEPT = ("名詞", "動詞", "形容詞")


def segmenter_names() -> dict[str, str]:
    """Which segmenter each script gets on this installation: {"chinese": …, "japanese": …}."""
    found = {name: importlib.util.find_spec(name) is not None for name in ("rjieba", "janome")}
    return {"chinese": "rjieba" if found["rjieba"] else "bigrams",
            "japanese": "janome" if found["janome"] else "bigrams"}


def explanation_words(text: str, stop: frozenset[str] | set[str] = frozenset(),
                      *, segmenters: dict[str, str] | None = None) -> list[str]:
    """Content words of ``text`` for keywords and names, unspaced runs segmented into words.

    ``stop`` (the question's echo) is left out, as are English stopwords and
    :data:`CJK_STOPWORDS`. ``segmenters`` overrides :func:`segmenter_names` (e.g. bigrams only).
    """
    chosen = segmenters or segmenter_names()
    found: list[str] = []
    position = 0
    for run in _RUN.finditer(text):
        found += content_words(text[position:run.start()], stop)
        script = "japanese" if _KANA.search(run.group()) else "chinese"
        found += [word for word in _segment(run.group(), chosen[script], script)
                  if word not in stop and word not in CJK_STOPWORDS]
        position = run.end()
    return found + content_words(text[position:], stop)


def _segment(run: str, how: str, script: str) -> list[str]:
    if how == "bigrams" or len(run) == 1:
        return bigrams(run)
    return _SEGMENTERS[script]()(run)


def bigrams(run: str) -> list[str]:
    """Overlapping character pairs of a run ("服务很慢" → "服务", "务很", "很慢"); one character stays one."""
    folded = "".join(words(run))
    return [folded] if len(folded) < 2 else [folded[i:i + 2] for i in range(len(folded) - 1)]


@functools.cache
def _chinese() -> Callable[[str], list[str]]:
    import rjieba

    def cut(run: str) -> list[str]:
        return [word for word, tag in rjieba.tag(run) if not tag.startswith(_CHINESE_TAGS_DROPPED)]

    return cut


@functools.cache
def _japanese() -> Callable[[str], list[str]]:
    from janome.tokenizer import Tokenizer

    tokenizer = Tokenizer()  # loads its dictionary once (about a second)

    def cut(run: str) -> list[str]:
        kept = []
        for token in tokenizer.tokenize(run):
            kind = token.part_of_speech.split(",")
            if kind[0] in _JAPANESE_KEPT and kind[1] not in ("非自立", "代名詞", "数", "接尾"):
                kept.append(token.base_form if kind[0] != "名詞" else token.surface)
        return kept

    return cut


_SEGMENTERS: dict[str, Callable[[], Callable[[str], list[str]]]] = {"chinese": _chinese, "japanese": _japanese}
