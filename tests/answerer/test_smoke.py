from jbqa.answerer import Answerer


def test_financial_institutions_are_quoted_with_their_figure(answerer: Answerer) -> None:
    result = answerer.ask("江北区金融机构有多少家")
    assert not result.abstained
    assert any(fig in result.answers[0].quote for fig in ("480", "490"))
    assert result.answers[0].source.endswith(".txt")
