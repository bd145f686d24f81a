"""Demo master data, drawn from ../shared/APPAREL-DATA.md: 3 factories with work centres and
shift calendars, 10 fabrics with stock, 12 styles with size runs, bills of materials and
routings, 2 buyer teams. Seeding twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from models.schemas import PlanStatus, TechPackStatus
from models.tables import (
    BomLine,
    BuyerTeam,
    Fabric,
    Factory,
    Plan,
    RoutingStep,
    Style,
    WorkCentre,
)

TOPS = ["XS", "S", "M", "L", "XL", "XXL"]
WAIST = ["28", "30", "32", "34", "36", "38"]
DRESS = ["34", "36", "38", "40", "42", "44"]

DAY_SHIFT = {"weekdays": [1, 2, 3, 4, 5, 6], "start": "08:00:00", "end": "17:00:00"}
LATE_SHIFT = {"weekdays": [1, 2, 3, 4, 5], "start": "17:00:00", "end": "01:00:00"}

FACTORIES = [
    # code, name, timezone, shifts, holidays, transport days to hub
    (
        "GZ-KNIT",
        "Panyu Knitwear, Guangzhou",
        "Asia/Shanghai",
        [DAY_SHIFT, LATE_SHIFT],
        ["2027-01-01", "2027-02-16", "2027-02-17", "2027-05-01", "2027-10-01"],
        1.0,
    ),
    (
        "NB-WOVEN",
        "Ningbo Woven Works",
        "Asia/Shanghai",
        [DAY_SHIFT],
        ["2027-01-01", "2027-02-16", "2027-02-17", "2027-05-01", "2027-10-01"],
        1.5,
    ),
    (
        "DH-DENIM",
        "Gazipur Denim, Dhaka",
        "Asia/Dhaka",
        [DAY_SHIFT],
        ["2027-02-21", "2027-03-26", "2027-04-14", "2027-12-16"],
        3.0,
    ),
]

# factory code -> (work centre code, name, operation kinds, capacity, efficiency, cost/min)
WORK_CENTRES = {
    "GZ-KNIT": [
        ("GZ-CUT-1", "Cutting table 1", ["cut"], 1, 0.80, 0.30),
        ("GZ-SEW-1", "Knit sewing line 1 (28 operators)", ["sew"], 1, 0.65, 0.42),
        ("GZ-SEW-2", "Knit sewing line 2 (24 operators)", ["sew"], 1, 0.60, 0.40),
        ("GZ-PRT-1", "Screen print and embroidery", ["print", "embroider"], 1, 0.75, 0.35),
        ("GZ-FIN-1", "Finishing, QC and packing", ["finish"], 1, 0.80, 0.25),
    ],
    "NB-WOVEN": [
        ("NB-CUT-1", "Cutting room", ["cut"], 1, 0.80, 0.32),
        ("NB-SEW-1", "Woven sewing line 1 (32 operators)", ["sew"], 1, 0.62, 0.45),
        ("NB-SEW-2", "Woven sewing line 2 (30 operators)", ["sew"], 1, 0.58, 0.44),
        ("NB-FIN-1", "Pressing, QC and packing", ["finish"], 1, 0.75, 0.28),
    ],
    "DH-DENIM": [
        ("DH-CUT-1", "Denim cutting", ["cut"], 1, 0.78, 0.18),
        ("DH-SEW-1", "Denim sewing line 1 (40 operators)", ["sew"], 1, 0.55, 0.22),
        ("DH-SEW-2", "Denim sewing line 2 (36 operators)", ["sew"], 1, 0.52, 0.21),
        ("DH-WSH-1", "Wash and finishing", ["finish"], 1, 0.70, 0.15),
    ],
}

FABRICS = [
    # code, name, supplier, metres on hand, lead time days, unit cost per metre
    ("JER-160", "Cotton jersey 160 g/m2", "Keqiao Knit Mills", 6000, 3, 3.10),
    ("JER-220", "Heavy cotton jersey 220 g/m2", "Keqiao Knit Mills", 3500, 4, 3.80),
    ("PIQ-200", "Cotton pique 200 g/m2", "Keqiao Knit Mills", 2500, 4, 4.20),
    ("FLC-300", "Brushed fleece 300 g/m2", "Shaoxing Fleece Co.", 2500, 5, 5.10),
    ("POP-110", "Cotton poplin 110 g/m2", "Wujiang Weaving", 4000, 3, 3.60),
    ("OXF-130", "Oxford shirting 130 g/m2", "Wujiang Weaving", 2000, 12, 4.40),
    ("VIS-CRP", "Viscose crepe", "Hangzhou Silk Road Textiles", 2500, 10, 4.90),
    ("TWL-240", "Cotton twill 240 g/m2", "Changzhou Twill", 3000, 5, 4.70),
    ("DEN-12", "Rigid denim 12 oz", "Narayanganj Denim Mills", 5000, 14, 5.60),
    ("DEN-STR", "Stretch denim 10.5 oz", "Narayanganj Denim Mills", 2000, 18, 6.20),
]

# code, name, garment, sizes, colours, MOQ, fabric, metres at base size, wastage %,
# routing [(operation, setup minutes, standard minutes per piece)], tech pack approved?
STYLES = [
    (
        "TS-CREW",
        "Crew-neck tee",
        "T-shirt",
        TOPS,
        ["white", "black", "heather"],
        100,
        "JER-160",
        1.10,
        7.0,
        [("cut", 45, 0.4), ("sew", 20, 6.0), ("finish", 15, 1.5)],
        True,
    ),
    (
        "TS-LONG",
        "Long-sleeve tee",
        "T-shirt",
        TOPS,
        ["white", "navy"],
        100,
        "JER-160",
        1.35,
        7.0,
        [("cut", 45, 0.45), ("sew", 20, 7.5), ("finish", 15, 1.5)],
        True,
    ),
    (
        "TS-GRAPHIC",
        "Graphic tee",
        "T-shirt",
        TOPS,
        ["white", "black"],
        100,
        "JER-160",
        1.10,
        7.0,
        [("cut", 45, 0.4), ("print", 40, 1.2), ("sew", 20, 6.0), ("finish", 15, 1.5)],
        True,
    ),
    (
        "PL-CLASSIC",
        "Classic polo",
        "polo shirt",
        TOPS,
        ["white", "navy", "forest"],
        80,
        "PIQ-200",
        1.30,
        8.0,
        [("cut", 50, 0.5), ("embroider", 30, 1.5), ("sew", 25, 11.0), ("finish", 15, 2.0)],
        True,
    ),
    (
        "HD-ZIP",
        "Zip hoodie",
        "hoodie",
        TOPS,
        ["grey", "black"],
        80,
        "FLC-300",
        2.10,
        8.0,
        [("cut", 60, 0.7), ("sew", 30, 18.0), ("finish", 15, 2.5)],
        True,
    ),
    (
        "SW-CREW",
        "Crew sweatshirt",
        "sweatshirt",
        TOPS,
        ["grey", "oatmeal"],
        80,
        "JER-220",
        1.80,
        8.0,
        [("cut", 60, 0.6), ("sew", 30, 15.0), ("finish", 15, 2.0)],
        True,
    ),
    (
        "BL-WRAP",
        "Wrap blouse",
        "blouse",
        TOPS,
        ["ivory", "rose"],
        60,
        "VIS-CRP",
        1.60,
        9.0,
        [("cut", 60, 0.6), ("sew", 30, 14.0), ("finish", 20, 2.5)],
        True,
    ),
    (
        "SH-OXFORD",
        "Oxford shirt",
        "men's formal shirt",
        TOPS,
        ["white", "blue"],
        60,
        "OXF-130",
        1.40,
        9.0,
        [("cut", 60, 0.6), ("sew", 30, 22.0), ("finish", 20, 3.0)],
        True,
    ),
    (
        "SK-MIDI",
        "Midi skirt",
        "skirt",
        DRESS,
        ["black", "olive"],
        60,
        "TWL-240",
        1.20,
        8.0,
        [("cut", 50, 0.5), ("sew", 25, 12.0), ("finish", 15, 2.0)],
        True,
    ),
    (
        "DR-SHIFT",
        "Shift dress",
        "dress",
        DRESS,
        ["black", "terracotta"],
        50,
        "POP-110",
        2.40,
        9.0,
        [("cut", 60, 0.8), ("sew", 30, 25.0), ("finish", 20, 3.0)],
        True,
    ),
    (
        "JN-5PKT",
        "5-pocket jeans",
        "jeans",
        WAIST,
        ["indigo", "black"],
        100,
        "DEN-12",
        1.50,
        10.0,
        [("cut", 75, 0.8), ("sew", 40, 26.0), ("finish", 30, 4.0)],
        True,
    ),
    (
        "TR-CHINO",
        "Chino trousers",
        "trousers",
        WAIST,
        ["khaki", "navy"],
        80,
        "TWL-240",
        1.55,
        9.0,
        [("cut", 60, 0.7), ("sew", 35, 30.0), ("finish", 20, 3.0)],
        False,
    ),
]

TEAMS = [("team-nova", "Nova Studio (womenswear)"), ("team-ridge", "Ridge Basics (menswear)")]


@dataclass(frozen=True)
class SeedSummary:
    created: bool
    factories: int
    work_centres: int
    fabrics: int
    styles: int
    teams: int


def consumption_by_size(sizes: list[str], base_metres: float) -> dict[str, float]:
    """Metres per piece by size: the base at the middle size, ±4% per size step."""
    middle = (len(sizes) - 1) / 2
    return {s: round(base_metres * (1 + 0.04 * (i - middle)), 3) for i, s in enumerate(sizes)}


def seed_demo_data(session: Session) -> SeedSummary:
    if session.exec(select(Factory)).first() is not None:
        return SeedSummary(False, 0, 0, 0, 0, 0)
    factories: dict[str, Factory] = {}
    n_centres = 0
    for code, name, tz, shifts, holidays, days in FACTORIES:
        factories[code] = Factory(
            code=code,
            name=name,
            timezone=tz,
            shifts=shifts,
            holidays=holidays,
            transport_days_to_hub=days,
        )
        session.add(factories[code])
    session.flush()
    for fcode, centres in WORK_CENTRES.items():
        for code, name, kinds, capacity, efficiency, cost in centres:
            session.add(
                WorkCentre(
                    factory_id=factories[fcode].id or 0,
                    code=code,
                    name=name,
                    operation_kinds=kinds,
                    capacity=capacity,
                    efficiency=efficiency,
                    cost_per_minute=cost,
                )
            )
            n_centres += 1
    fabrics = {
        code: Fabric(
            code=code,
            name=name,
            supplier=supplier,
            metres_on_hand=metres,
            lead_time_days=lead,
            unit_cost=cost,
        )
        for code, name, supplier, metres, lead, cost in FABRICS
    }
    session.add_all(fabrics.values())
    session.flush()
    for (
        code,
        name,
        garment,
        sizes,
        colours,
        moq,
        fabric,
        base,
        wastage,
        routing,
        approved,
    ) in STYLES:
        style = Style(
            code=code,
            name=name,
            garment=garment,
            size_run=sizes,
            colours=colours,
            min_order_qty=moq,
            tech_pack_status=TechPackStatus.APPROVED if approved else TechPackStatus.DRAFT,
        )
        session.add(style)
        session.flush()
        session.add(
            BomLine(
                style_id=style.id or 0,
                fabric_id=fabrics[fabric].id or 0,
                consumption_by_size=consumption_by_size(sizes, base),
                wastage_pct=wastage,
            )
        )
        for seq, (kind, setup, smv) in enumerate(routing, start=1):
            session.add(
                RoutingStep(
                    style_id=style.id or 0,
                    seq=seq,
                    operation_kind=kind,
                    setup_minutes=setup,
                    standard_minutes=smv,
                )
            )
    session.add_all(BuyerTeam(code=code, name=name) for code, name in TEAMS)
    if session.exec(select(Plan)).first() is None:
        session.add(Plan(version=1, status=PlanStatus.LIVE, source="initial"))
    session.commit()
    return SeedSummary(True, len(FACTORIES), n_centres, len(FABRICS), len(STYLES), len(TEAMS))
