"""Follow-up questions: a question that leans on the one before it is completed from its subject.

那它的面积呢 after 观音桥在哪里 is answered as 观音桥的面积是多少: a pronoun (它, 那里, 这个 …) stands
for the previous question's subject; a 呢-question without a subject of its own asks the previous
question again about an attribute (面积呢), about another subject (江北嘴呢) or narrowed (节假日呢).
Linguistic rules only: pronouns, question particles, question words, common attribute nouns and
the endings of place and organisation names.
"""

from __future__ import annotations

import re

from jbqa.answerer.qwords import QUESTION_WORDS

MAX_HISTORY = 6  # previous questions taken into account, most recent last
_END = re.compile(r"[？?。！!，,\s]+$")
_LEAD = re.compile(r"^(?:那么|那|还有|另外|再问一下|请问|那请问)[，,\s]*")
# Pronouns that stand for a thing or a place (not for a person: 他 and 她 are left alone).
_PRONOUN = re.compile(r"它们|它的|它|该地|该区|该市|该镇|该县|此地|那里|那儿|这里|这儿|这个地方|那个地方|这个|那个|这些|那些|其")
_QUESTION_WORD = re.compile("|".join(pattern for _, pattern in QUESTION_WORDS))
# Nouns that name an attribute of a thing: a bare one (面积呢) asks for it of the previous subject.
_ATTRIBUTE = re.compile(
    r"(?:面积|人口|人数|数量|规模|总量|产值|总值|收入|税收|长度|高度|宽度|深度|距离|海拔|位置|地址|地点|"
    r"历史|特点|特色|简介|概况|介绍|年份|时间|日期|价格|票价|费用|电话|营业时间|开放时间|门票|"
    r"增速|增长|占比|比例|排名|名称|全称|简称|面貌|定位|目标|作用|意义|由来|来历|"
    r"多少|几家|几个|多大|多高|多长)$"
)
# How names of places and organisations end: a bare one (江北嘴呢) is another subject for the same question.
_ENTITY = re.compile(
    r"(?:省|市|区|县|镇|乡|村|街道|街|路|桥|嘴|湾|岛|山|湖|江|河|港|站|园|广场|商圈|景区|中心|大厦|楼|塔|寺|馆|"
    r"公司|企业|集团|银行|机构|学校|大学|学院|医院|协会|政府|部门)$"
)
# Where the subject of a question ends: its first predicate or question word.
_PREDICATE = re.compile(r"的|在|是|有|位于|属于|叫|共|占|达|获得|成立|建成|开业|拥有|包括|" + _QUESTION_WORD.pattern)
MIN_SUBJECT_CHARS = 2
MAX_SUBJECT_CHARS = 20
MAX_BARE_CHARS = 8  # a 呢-question this short (once its lead and 呢 are gone) has no subject of its own


def subject_of(question: str) -> str | None:
    """The words a question is about: what comes before its first predicate or question word."""
    text = _LEAD.sub("", _END.sub("", question))
    found = _PREDICATE.search(text)
    subject = text[: found.start()] if found else ""
    if not MIN_SUBJECT_CHARS <= len(subject) <= MAX_SUBJECT_CHARS or _PRONOUN.search(subject):
        return None
    return subject


def resolve(question: str, history: list[str]) -> str:
    """`question` completed from the most recent previous question with a subject; unchanged when it
    needs no completing or nothing before it has a subject."""
    previous = next((q for q in reversed(history[-MAX_HISTORY:]) if subject_of(q)), None)
    if previous is None:
        return question
    subject = subject_of(previous)
    assert subject is not None
    text = _END.sub("", question.strip())
    pronoun = _PRONOUN.search(text)
    if pronoun:
        rest = _LEAD.sub("", text[: pronoun.start()]) + subject + text[pronoun.end() :]
        if pronoun.group() in ("它的", "其") and not rest[len(subject) :].startswith("的"):
            rest = rest.replace(subject, subject + "的", 1)
        return _asked(rest)
    if not text.endswith("呢"):
        return question
    bare = _LEAD.sub("", text[:-1])
    if not bare or len(bare) > MAX_BARE_CHARS or _QUESTION_WORD.search(bare) and not _ATTRIBUTE.search(bare):
        return question
    asked_before = _LEAD.sub("", _END.sub("", previous))
    if _ATTRIBUTE.search(bare):  # 面积呢: the same subject, another attribute
        return _asked(f"{subject}的{bare}")
    if _ENTITY.search(bare):  # 江北嘴呢: the same question of another subject
        return asked_before.replace(subject, bare, 1)
    return bare + asked_before  # 节假日呢: the same question, narrowed


def _asked(text: str) -> str:
    """A question without a question word asks what the attribute is: 观音桥的面积 -> 观音桥的面积是多少."""
    text = re.sub(r"呢$", "", text)
    if _QUESTION_WORD.search(text):
        return text
    return text + "是多少" if re.search(r"(?:面积|人口|人数|数量|规模|总量|产值|总值|收入|税收|长度|高度|宽度|深度|"
                                        r"距离|海拔|增速|增长|占比|比例|价格|票价|费用)$", text) else text + "是什么"
