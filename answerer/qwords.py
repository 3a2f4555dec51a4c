"""Question words: what kind of answer a Chinese question asks for, and where in it the asking is.

General linguistic knowledge only; the learned reader weighs these categories against span shapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (category, pattern), most specific first; the category index is a categorical model feature.
QUESTION_WORDS: tuple[tuple[str, str], ...] = (
    ("why", r"为什么|为何|何以|什么原因|原因是|何故|凭什么"),
    ("how", r"怎么样|怎样|怎么|如何|什么方式|什么方法|用什么"),
    ("when", r"何时|什么时[候间]|啥时候|哪一?年|哪一?天|哪个月|哪一?日|几月|几号|几点|几时|什么年代|年份|日期|几年前|多久以前"),
    ("howlong", r"多久|多长时间|几年|几天|几个月|几个小时|多少年|多少天"),
    ("howmany", r"多少|几[个家项所名座条户位次倍元米年天届期批类种款场辆人万亿十百千]|几|多大|多高|多长|多远|多重|多快|多深|多宽|比例|占比|百分之|几成"),
    ("where", r"哪里|哪儿|在哪|何处|何地|什么地方|哪个地方|什么位置|哪座城市|哪个国家|哪个城市|哪国|哪省|哪个省"),
    ("who", r"谁|哪位|何人|哪个人|哪些人|什么人"),
    ("which", r"哪[个些家所种一类座条部项支间本首场届款]|哪"),
    ("what", r"什么|啥|何种|何物|何为|叫做|称为|名[称字]"),
    ("yesno", r"是否|吗$|吗[？?]|有没有|是不是|能不能|会不会"),
)
CATEGORIES: tuple[str, ...] = tuple(name for name, _ in QUESTION_WORDS) + ("other",)
_PATTERNS = tuple((name, re.compile(pattern)) for name, pattern in QUESTION_WORDS)


@dataclass(frozen=True)
class QuestionWord:
    category: str
    start: int  # offsets of the question word in the normalised question; -1 when none was found
    end: int

    @property
    def index(self) -> int:
        return CATEGORIES.index(self.category)


def find_question_word(normalized: str) -> QuestionWord:
    """The first category (in order of specificity) whose pattern occurs; its leftmost occurrence."""
    for name, pattern in _PATTERNS:
        match = pattern.search(normalized)
        if match:
            return QuestionWord(name, match.start(), match.end())
    return QuestionWord("other", -1, -1)
