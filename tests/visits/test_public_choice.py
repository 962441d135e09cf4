"""The citizen's /public/visits: the village chosen by town first or by search, and the way
back to the case lookup."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from yibao.visits.rules import village_choice

VILLAGES = [
    ("500118100", "青峰镇", "青峰村"),
    ("500118100", "青峰镇", "石笋村"),
    ("500118108", "五间镇", "新建村"),
    ("500118108", "五间镇", "景圣村"),
]

names = st.text(alphabet="青峰石笋村新建景圣五间镇", min_size=1, max_size=4)


@given(
    villages=st.lists(st.tuples(st.sampled_from(["T1", "T2"]), names, names), max_size=12),
    town=st.one_of(st.none(), st.sampled_from(["", "T1", "T2"]), names),
    query=st.one_of(st.none(), names, st.just("  ")),
)
def test_the_choice_is_the_town_s_villages_that_hold_every_word(
    villages: list[tuple[str, str, str]], town: str | None, query: str | None
) -> None:
    out = village_choice(villages, town=town, query=query)
    assert out == [v for v in villages if v in out]  # a sublist, in the given order
    for code, town_name, name in out:
        assert not town or town in (code, town_name)
        assert all(w in name or w in town_name for w in (query or "").split())
    if not town and not (query or "").strip():
        assert out == villages


def test_village_choice_by_town_and_by_name() -> None:
    assert [v[2] for v in village_choice(VILLAGES, town="500118108", query=None)] == [
        "新建村",
        "景圣村",
    ]
    assert [v[2] for v in village_choice(VILLAGES, town="五间镇", query="景")] == ["景圣村"]
    assert [v[2] for v in village_choice(VILLAGES, town=None, query="青峰")] == ["青峰村", "石笋村"]
    assert village_choice(VILLAGES, town="500118100", query="新建") == []


def test_the_public_page_chooses_by_town_or_search(client: TestClient, vnode) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/public/visits").text
    assert '<select id="town" name="town">' in page and 'id="q"' in page
    assert '<a href="/public/">查询办件进度</a>' in page

    by_town = client.get("/public/visits", params={"town": "500118108"}).text
    matches = by_town[
        by_town.index('id="matches"') : by_town.index("</ul>", by_town.index('id="matches"'))
    ]
    assert "新建村" in matches and "景圣村" in matches and "青峰村" not in matches
    assert '<option value="500118108" selected>五间镇</option>' in by_town

    found = client.get("/public/visits", params={"q": "石笋"}).text
    assert 'href="/public/visits?town=500118100&amp;village=%E7%9F%B3%E7%AC%8B%E6%9D%91"' in found
    assert "没有找到这样的村" in client.get("/public/visits", params={"q": "不存在"}).text

    picked = client.get("/public/visits", params={"town": "500118100", "village": "石笋村"})
    assert picked.status_code == 200 and "近期暂无流动服务站到访安排" in picked.text
    for bad in ({"q": "x" * 51}, {"town": "\x00"}):
        assert client.get("/public/visits", params=bad).status_code == 422


def test_the_case_lookup_links_to_the_visits(client: TestClient, vnode) -> None:  # type: ignore[no-untyped-def]
    assert 'href="/public/visits"' in client.get("/public/").text
