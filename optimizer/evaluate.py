"""A plan from its assignments, whoever made them: KPIs, every objective term, the
weighted objective, and the late orders' explanations. Pure: no solver, no I/O."""

from __future__ import annotations

from optimizer.explain import late_orders
from optimizer.problem import (
    Assignment,
    Plan,
    Problem,
    SolveStatus,
    Weights,
    kpis_of,
    objective_of,
    terms_of,
)


def plan_of(
    problem: Problem,
    assignments: list[Assignment],
    weights: Weights,
    status: SolveStatus,
    explain: bool = True,
) -> Plan:
    """The plan of ``assignments`` with everything computed from them; ``best_bound`` is
    0 until the caller knows better. ``explain=False`` skips the late orders' reasons."""
    ordered = sorted(assignments, key=lambda a: (a.start, a.order, a.seq))
    kpis = kpis_of(problem, ordered)
    terms = terms_of(problem, ordered, kpis)
    return Plan(
        assignments=ordered,
        status=status,
        objective=objective_of(weights, terms),
        best_bound=0.0,
        terms=terms,
        kpis=kpis,
        late_orders=late_orders(problem, ordered) if explain else [],
    )
