"""Cleaning of PDF-to-text damage, checked on excerpts copied verbatim from the bundled corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from jbqa.config import BUNDLED_CORPUS
from jbqa.ingest.clean import Block, clean_document, clean_inline, clean_text, undouble
from jbqa.ingest.metadata import derive
from jbqa.ingest.normalize import normalize_chars

CORPUS_FILES = sorted(BUNDLED_CORPUS.glob("*.txt"))


def assert_offsets_point_at_raw(raw: str, text: str, offsets: list[int] | tuple[int, ...]) -> None:
    """Each clean character is the raw character at its offset (an inserted space sits on raw whitespace)."""
    assert len(text) == len(offsets)
    assert list(offsets) == sorted(set(offsets)), "offsets must strictly increase"
    for i, (ch, off) in enumerate(zip(text, offsets)):
        assert 0 <= off < len(raw)
        if ch == " ":
            assert raw[off].isspace(), (i, raw[off])
        else:
            assert raw[off] == ch, (i, ch, raw[off])


def cleaned(raw: str) -> str:
    text, offsets = clean_inline(raw)
    assert_offsets_point_at_raw(raw, text, offsets)
    return text


def document(raw: str) -> list[Block]:
    blocks = clean_document(raw)
    for block in blocks:
        assert_offsets_point_at_raw(raw, block.text, block.offsets)
    return blocks


# --- sentences broken across lines -----------------------------------------------------------

# 000_623d10d81843cc6a.txt, lines 20-23: a paragraph broken mid-word, once across a blank line.
FINANCE_PARAGRAPH = (
    "近年来，江北区以江北嘴中央商务区为中心，以要素集\n"
    "聚为支撑点，大力发展现代金融，对标国际标准，持续优化金\n"
    "\n"
    "融业态，努力打造内陆国际金融中心，成效显著。"
)


def test_line_breaks_and_blank_lines_inside_a_sentence_are_joined() -> None:
    expected = (
        "近年来，江北区以江北嘴中央商务区为中心，以要素集聚为支撑点，大力发展现代金融，"
        "对标国际标准，持续优化金融业态，努力打造内陆国际金融中心，成效显著。"
    )
    assert cleaned(FINANCE_PARAGRAPH) == expected
    blocks = document(FINANCE_PARAGRAPH)
    assert [(b.text, b.kind) for b in blocks] == [(expected, "text")]


def test_the_offsets_skip_the_blank_line_inside_the_word() -> None:
    text, offsets = clean_inline(FINANCE_PARAGRAPH)
    jin = text.index("持续优化金融") + 4
    assert text[jin : jin + 2] == "金融"
    assert FINANCE_PARAGRAPH[offsets[jin] + 1 : offsets[jin + 1]] == "\n\n"


def test_spaced_characters_split_by_blank_lines_form_one_sentence() -> None:
    # 004_580be5a15073a97d.txt, lines 150-164.
    raw = (
        "时 序 更 替 ，岁 物 丰\n\n成。回首“十三五”，江北\n\n区以实干笃定前行，用行\n\n"
        "动诠释担当，摘得城市品\n\n牌最高荣誉“全国文明城\n\n区”，首夺全国综治最高奖\n\n"
        "“长安杯”，收获了经济社\n\n会发展的丰硕成果。"
    )
    assert [b.text for b in document(raw)] == [
        "时序更替，岁物丰成。回首“十三五”，江北区以实干笃定前行，用行动诠释担当，"
        "摘得城市品牌最高荣誉“全国文明城区”，首夺全国综治最高奖“长安杯”，收获了经济社会发展的丰硕成果。"
    ]


# --- doubled runs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("国金中心国金中心", "国金中心"),
        ("江北嘴金融核心区江北嘴金融核心区", "江北嘴金融核心区"),
        ("江北区江北区““五社联动五社联动””助力基层治理助力基层治理", "江北区“五社联动”助力基层治理"),
    ],
)
def test_lines_printed_twice_are_undoubled(raw: str, expected: str) -> None:
    assert cleaned(raw) == expected


def test_undouble_keeps_the_first_copy_of_every_run() -> None:
    line = "江北区江北区““五社联动五社联动””"
    keep = undouble(line)
    assert keep is not None
    assert "".join(line[i] for i in keep) == "江北区“五社联动”"
    assert keep[:3] == [0, 1, 2]


@pytest.mark.parametrize(
    "line",
    [
        "“上海有陆家嘴，重庆有江北嘴。”从一句在重庆广为流",  # 000, line 17
        "国家5A级景区标准打造长嘉汇大景区。其中，江北区扮演着“城市",  # 000, line 94
        "——",
        "力。",
    ],
)
def test_ordinary_lines_are_not_undoubled(line: str) -> None:
    assert undouble(line) is None
    assert cleaned(line) == line


def test_doubled_headings_and_captions_are_undoubled_and_kept_apart() -> None:
    # 004_580be5a15073a97d.txt, lines 210-216.
    raw = (
        "国金中心国金中心\n\n"
        "江北区江北区““五社联动五社联动””助力基层治理助力基层治理，，图为铁山坪街道唐桂社区图为铁山坪街道唐桂社区"
        " 崔力崔力 摄摄//视觉重庆视觉重庆\n\n"
        "江北嘴金融核心区江北嘴金融核心区\n\n"
        "铁山坪森林公园，孩子们在儿童乐园玩耍 崔力 摄/视觉重庆"
    )
    blocks = document(raw)
    assert [(b.text, b.kind) for b in blocks] == [
        ("国金中心", "heading"),
        ("江北区“五社联动”助力基层治理，图为铁山坪街道唐桂社区崔力摄/视觉重庆", "caption"),
        ("江北嘴金融核心区", "heading"),
        ("铁山坪森林公园，孩子们在儿童乐园玩耍崔力摄/视觉重庆", "caption"),
    ]


# --- captions and photo credits ----------------------------------------------------------------


@pytest.mark.parametrize(
    "caption",
    [
        "保利中心大数据产业基地 摄/李显彦",
        "市民在成渝地区双城经济圈江北区形象展示中心沉浸式影院“鸟瞰”两地风貌 摄/崔力",
        "海尔衣联网智能阳台场景展示 摄/林豪",
        "莺花古渡效果图",
        "江北嘴国际金融中心鸟瞰效果图",
        "王彩艳 杨敏 图片除署名外由江北区委宣传部提供",
        "铁山坪森林公园，孩子们在儿童乐园玩耍 崔力 摄/视觉重庆",
    ],
)
def test_a_caption_is_a_block_of_its_own(caption: str) -> None:
    blocks = clean_document(caption)
    assert [b.kind for b in blocks] == ["caption"]
    assert blocks[0].text == cleaned(caption)


def test_captions_between_paragraphs_stand_apart_from_the_text_around_them() -> None:
    # 001_eb47fa1761d187f3.txt, lines 27-39.
    raw = (
        "接下来,江北区将加快推动观音桥商圈扩能升级,充分释放北滨路经济带活力,以“三线”为导向,推行直播带货、"
        "线上超市、超级体验等新模式。同时,打好“夜经济”特色牌,营造“吃在江北、住在江北、游在江北、乐在江北”"
        "的浓厚氛围。\n\n\n\n"
        "保利中心大数据产业基地 摄/李显彦\n\n\n\n"
        "市民在成渝地区双城经济圈江北区形象展示中心沉浸式影院“鸟瞰”两地风貌 摄/崔力\n\n"
        "“长嘉汇”的动力就是大数据智能化—— 以鱼复工业开发区、港城工业园 区为依托,在发展智能制造和生物医"
        " 药科技创新上争作示范\n\n"
        "5月26日,海尔衣联网智慧生态研究院在江北区港城工业园揭牌成立。这意味着,江北数字经济再添新引擎。"
    )
    blocks = document(raw)
    running = "".join(b.text for b in blocks if b.kind != "caption")
    for credit in ("摄/", "李显彦", "崔力", "沉浸式影院"):
        assert credit not in running
    assert [b.text for b in blocks if b.kind == "caption"] == [
        "保利中心大数据产业基地摄/李显彦",
        "市民在成渝地区双城经济圈江北区形象展示中心沉浸式影院“鸟瞰”两地风貌摄/崔力",
    ]
    assert blocks[0].text.endswith("的浓厚氛围。")
    assert (
        blocks[-1].text
        == "5月26日,海尔衣联网智慧生态研究院在江北区港城工业园揭牌成立。这意味着,江北数字经济再添新引擎。"
    )
    heading = next(b for b in blocks if b.text.startswith("“长嘉汇”的动力"))
    assert heading.kind == "heading"
    assert heading.text.endswith("港城工业园区为依托,在发展智能制造和生物医药科技创新上争作示范")


def test_credits_at_the_end_of_a_document_are_kept_apart() -> None:
    # 001_eb47fa1761d187f3.txt, lines 75-81.
    raw = (
        "据悉,日前,成渝地区双城经济圈江北区形象展示中心已在江北嘴开门迎客。接下来,江北区将高起点推进100亿级"
        "“升级版太古里”建设,并扩大与成都市青羊区、巴中市、德阳市等地合作的“朋友圈”。\n\n"
        "王彩艳 杨敏 图片除署名外由江北区委宣传部提供\n\n\n\n"
        "江北嘴国际金融中心鸟瞰效果图\n"
    )
    assert [(b.text, b.kind) for b in document(raw)] == [
        (
            "据悉,日前,成渝地区双城经济圈江北区形象展示中心已在江北嘴开门迎客。接下来,江北区将高起点推进100亿级"
            "“升级版太古里”建设,并扩大与成都市青羊区、巴中市、德阳市等地合作的“朋友圈”。",
            "text",
        ),
        ("王彩艳杨敏图片除署名外由江北区委宣传部提供", "caption"),
        ("江北嘴国际金融中心鸟瞰效果图", "caption"),
    ]


# --- vertical text -----------------------------------------------------------------------------


def test_vertical_one_character_lines_become_one_block() -> None:
    raw = "三\n大\n支\n柱\n齐\n发\n力"
    blocks = document(raw)
    assert [b.text for b in blocks] == ["三大支柱齐发力"]
    assert blocks[0].offsets == (0, 2, 4, 6, 8, 10, 12)


def test_two_vertical_titles_stay_apart_from_each_other_and_from_the_text() -> None:
    # 004_580be5a15073a97d.txt, lines 190-208.
    raw = "的产业强区，经济总量跨\n\n越2000亿元。\n\n三\n大\n支\n柱\n齐\n发\n力\n\n经\n济\n发\n展\n更\n强\n劲\n"
    blocks = document(raw)
    assert [b.text for b in blocks] == ["的产业强区，经济总量跨越2000亿元。", "三大支柱齐发力", "经济发展更强劲"]
    assert [b.kind for b in blocks[1:]] == ["heading", "heading"]


# --- Latin words, digits and spaces ----------------------------------------------------------


def test_a_latin_word_hyphenated_over_a_line_break_is_rejoined() -> None:
    # 000_623d10d81843cc6a.txt, lines 72-73.
    raw = "有数据显示，截至今年7月，观音桥商圈聚集了Gucci（古琦）、Ar-\nmani（阿玛尼）等90余个国际著名品牌；"
    text = cleaned(raw)
    assert text == "有数据显示，截至今年7月，观音桥商圈聚集了Gucci（古琦）、Armani（阿玛尼）等90余个国际著名品牌；"


@pytest.mark.parametrize(
    "raw",
    [
        "的重庆第一高楼“A-ONE”国际金",  # 000, line 43
        "的重庆第一高楼“A-\nONE”国际金",  # the same name broken after its hyphen
    ],
)
def test_a_real_hyphen_is_kept(raw: str) -> None:
    assert cleaned(raw) == "的重庆第一高楼“A-ONE”国际金"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # 000, lines 157-160: spaces between CJK characters and a line break inside 互联网.
        (
            "未来，江北区在推\n进 5G、工 业 互 联\n网、云计算等新\n型基础设施建设",
            "未来，江北区在推进5G、工业互联网、云计算等新型基础设施建设",
        ),
        # 000, lines 89-91: a space between a figure and its unit, and a figure broken off.
        (
            "北区全网店铺超过5.5 万户，实现\n电子商务交易额 952.1 亿元，增长\n22.35%。",
            "北区全网店铺超过5.5万户，实现电子商务交易额952.1亿元，增长22.35%。",
        ),
        # 002, lines 6 and 66.
        ("去年 10月，党中央、国务院印发的", "去年10月，党中央、国务院印发的"),
        ("2021 年 11月，重庆市政府印发《重", "2021年11月，重庆市政府印发《重"),
        # 002, lines 18-19: a figure broken before its unit.
        (
            "标为例。去年江北存贷款余额达到1.67\n万亿元、约占全市1/5，实际上到今年一",
            "标为例。去年江北存贷款余额达到1.67万亿元、约占全市1/5，实际上到今年一",
        ),
    ],
)
def test_spaces_and_line_breaks_between_cjk_are_removed(raw: str, expected: str) -> None:
    assert cleaned(raw) == expected


def test_latin_words_on_two_lines_keep_one_space() -> None:
    # 002_73f7aa93d5783d0e.txt, lines 79-81.
    raw = (
        "雅宝、菲拉格慕、古驰等100余个高端奢\n侈品牌先后落地；希思黎全国首家hair\nspa形象店、黄金鹅、卡纷等80余个西南、"
    )
    text, offsets = clean_inline(raw)
    assert (
        text
        == "雅宝、菲拉格慕、古驰等100余个高端奢侈品牌先后落地；希思黎全国首家hair spa形象店、黄金鹅、卡纷等80余个西南、"
    )
    assert raw[offsets[text.index(" ")]] == "\n"
    assert_offsets_point_at_raw(raw, text, offsets)


# --- traditional characters ------------------------------------------------------------------


def test_traditional_characters_are_kept_in_clean_text_and_normalised_only_for_matching() -> None:
    # 001_eb47fa1761d187f3.txt, line 13.
    raw = "“下一步,江北区将围绕重庆打造内陆国际金融中心和共建西部金融中心的目標,把金融作为提升‘长嘉汇’的硬核,加快建设江北嘴金融核心区。”江北区相关负责人透露。"
    text = cleaned(raw)
    assert "目標" in text
    assert "目标" not in text
    folded = normalize_chars(text)
    assert len(folded) == len(text)
    at = text.index("目標")
    assert folded[at : at + 2] == "目标"


def test_normalize_chars_folds_width_and_case_position_by_position() -> None:
    text = "江北區ＬＥＤ大屏１２個"
    folded = normalize_chars(text)
    assert folded == "江北区led大屏12个"
    assert len(folded) == len(text)


# --- the whole corpus --------------------------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_every_block_of_the_corpus_points_back_at_its_raw_characters(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    blocks = document(raw)
    assert blocks
    for block in blocks:
        assert block.kind in ("text", "heading", "caption")
        assert "\n" not in block.text
        assert block.text == block.text.strip()
        # Blocks come in document order and never overlap.
    starts = [b.offsets[0] for b in blocks]
    assert starts == sorted(starts)
    for before, after in zip(blocks, blocks[1:]):
        assert before.offsets[-1] < after.offsets[0]


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_cleaning_clean_text_changes_nothing(path: Path) -> None:
    for block in clean_document(path.read_text(encoding="utf-8")):
        assert clean_text(block.text) == block.text


def test_clean_text_is_the_text_of_clean_inline() -> None:
    assert clean_text(FINANCE_PARAGRAPH) == clean_inline(FINANCE_PARAGRAPH)[0]
    assert clean_text("") == ""
    assert clean_inline(FINANCE_PARAGRAPH, 0, 0) == ("", [])


def test_clean_inline_of_a_slice_reports_offsets_in_the_whole_text() -> None:
    start = FINANCE_PARAGRAPH.index("持续")
    text, offsets = clean_inline(FINANCE_PARAGRAPH, start, len(FINANCE_PARAGRAPH))
    assert text == "持续优化金融业态，努力打造内陆国际金融中心，成效显著。"
    assert offsets[0] == start
    assert_offsets_point_at_raw(FINANCE_PARAGRAPH, text, offsets)


# --- known layout faults -----------------------------------------------------------------------


@pytest.mark.xfail(
    reason="clean_document takes a line that stops mid-sentence before a blank line for a heading "
    "in documents whose lines are whole paragraphs, so 北滨路 / 东延伸段 is cut in two",
    strict=True,
)
def test_a_sentence_broken_across_a_blank_line_after_a_colon_is_joined() -> None:
    # 003_0a50f88abe1f9a29.txt, lines 37-41.
    raw = (
        "推进老旧小区改造，是江北区加快打造高品质生活宜居地的重要举措。近年来，江北区在创造高品质生活方面下真功、"
        "出实招，全力增进民生福祉，提升城市形象，优化营商环境。\n\n"
        "一项项成果为江北区创造高品质生活写下生动注脚：北滨路\n\n"
        "东延伸段工程全面进入主体结构施工阶段；19所学校新改扩建项目有序推进；开办明珠社区、桥北社区老年食堂；"
        "城镇新增就业5.5万人；获评“国家食品安全示范城市”。"
    )
    texts = [b.text for b in document(raw)]
    assert any("写下生动注脚：北滨路东延伸段工程全面进入主体结构施工阶段；" in t for t in texts), texts


def test_a_running_page_header_is_not_glued_onto_the_next_sentence() -> None:
    # 004_580be5a15073a97d.txt, lines 42-50.
    raw = (
        "莺花渡等历史文化珍珠\n链，彰显历史底蕴和文化\n特色。\n 聚焦主城都市区高质量发展·江北\n\n"
        "站在新起点上，江北区还\n将切实加强干部队伍的建设，\n不断提升干部的政治判断\n力、政治领悟力、政治执行"
    )
    texts = [b.text for b in document(raw)]
    assert not any("江北站在新起点上" in t for t in texts), texts
    assert any(t.startswith("站在新起点上，江北区还将切实加强干部队伍的建设") for t in texts), texts


def test_a_year_alone_on_a_line_is_not_undoubled() -> None:
    # 001_eb47fa1761d187f3.txt, line 11, wrapped at a narrow column.
    raw = "截至\n2020\n年一季度,近480家金融机构聚集江北"
    assert cleaned(raw) == "截至2020年一季度,近480家金融机构聚集江北"


def test_control_characters_are_dropped_and_every_offset_stays_exact() -> None:
    raw = "江北区\x1b[2J\x1b[H金融\x9b中心\x07共\x00有\x7f480家。\n\t第二行\x1b"
    text, offsets = clean_inline(raw)
    assert text == "江北区[2J[H金融中心共有480家。第二行"
    assert all(raw[o] == ch for ch, o in zip(text, offsets, strict=True))
    blocks = clean_document(raw)
    assert "".join(b.text for b in blocks) == text


def test_a_huge_line_without_a_full_stop_is_running_text_not_a_title() -> None:
    raw = "江北区指标为1234567890亿元" * 20_000 + "\n"
    blocks = clean_document(raw)
    assert [b.kind for b in blocks] == ["text"]
    title = derive("a.txt", blocks).title
    assert title is not None and len(title) <= 41  # what every answer from the file cites it by
