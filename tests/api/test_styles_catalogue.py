"""The catalogue buyer teams order from, and a style's tech pack as designers approve it."""

from __future__ import annotations

from sqlmodel import select

from models.schemas import ProductionOrderStatus, TechPackStatus
from models.tables import BomLine, BuyerTeam, Fabric, RoutingStep, Style
from tests.api.conftest import Platform
from tests.factories import make_order


async def test_the_catalogue_lists_what_a_demand_line_may_name(platform: Platform) -> None:
    r = await platform.http.get("/v1/styles", headers=platform.auth("team-nova"))
    assert r.status_code == 200, r.text
    listed = {s["code"]: s for s in r.json()}
    with platform.session_factory() as s:
        styles = s.exec(select(Style)).all()
        crew = next(style for style in styles if style.code == "TS-CREW")
        minutes = sum(
            step.standard_minutes
            for step in s.exec(select(RoutingStep).where(RoutingStep.style_id == crew.id))
        )
    assert list(listed) == sorted(style.code for style in styles)
    tee = listed["TS-CREW"]
    assert (tee["size_run"], tee["colours"], tee["min_order_qty"]) == (
        crew.size_run,
        crew.colours,
        crew.min_order_qty,
    )
    assert tee["minutes_per_piece"] == round(minutes, 2) and minutes > 0


async def test_a_designer_finds_the_drafts_and_what_waits_on_them(platform: Platform) -> None:
    with platform.session_factory() as s:
        zip_hoodie = s.exec(select(Style).where(Style.code == "HD-ZIP")).one()
        zip_hoodie.tech_pack_status = TechPackStatus.DRAFT
        s.add(zip_hoodie)
        s.commit()
        team = s.exec(select(BuyerTeam).where(BuyerTeam.code == "team-nova")).one()
        waiting = make_order(
            s,
            team.id or 0,
            style_code="HD-ZIP",
            colour="grey",
            status=ProductionOrderStatus.AWAITING_DESIGN,
        )
        make_order(s, team.id or 0, style_code="HD-ZIP", status=ProductionOrderStatus.DONE)
        bom = s.exec(
            select(BomLine, Fabric)
            .join(Fabric, Fabric.id == BomLine.fabric_id)
            .where(BomLine.style_id == zip_hoodie.id)
        ).all()
        steps = s.exec(select(RoutingStep).where(RoutingStep.style_id == zip_hoodie.id)).all()
        drafts_seeded = s.exec(
            select(Style.code).where(Style.tech_pack_status == TechPackStatus.DRAFT)
        ).all()
    designer = platform.auth("designer")
    drafts = await platform.http.get("/v1/styles?tech_pack=draft", headers=designer)
    assert "HD-ZIP" in drafts_seeded and "TS-CREW" not in drafts_seeded
    assert [d["code"] for d in drafts.json()] == sorted(drafts_seeded)

    r = await platform.http.get("/v1/styles/HD-ZIP", headers=designer)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["tech_pack_status"] == "draft"
    assert detail["orders_at_design_gate"] == [waiting.id]
    assert [(b["fabric_code"], b["consumption_by_size"]) for b in detail["bill_of_materials"]] == [
        (fabric.code, line.consumption_by_size) for line, fabric in bom
    ]
    assert [step["seq"] for step in detail["routing"]] == sorted(st.seq for st in steps)

    approved = await platform.http.post("/v1/styles/HD-ZIP/tech-pack/approve", headers=designer)
    assert approved.status_code == 200, approved.text
    drafts = await platform.http.get("/v1/styles?tech_pack=draft", headers=designer)
    assert [d["code"] for d in drafts.json()] == sorted(set(drafts_seeded) - {"HD-ZIP"})


async def test_an_unknown_style_or_filter_is_named(platform: Platform) -> None:
    r = await platform.http.get("/v1/styles/XX-NONE", headers=platform.auth("team-nova"))
    assert r.status_code == 404 and r.json()["detail"] == "style XX-NONE not found"
    r = await platform.http.get("/v1/styles?tech_pack=maybe", headers=platform.auth("designer"))
    assert r.status_code == 422 and "tech_pack" in r.text
