"""Rich renderings shared by the commands: the judge's plain rows, styled by outcome."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ..display import outcome_style
from ..judge.report import VERDICT_TABLE_HEADER, verdict_row
from ..verdict import StepDecision

_OUTCOME_COLUMN = VERDICT_TABLE_HEADER.index("outcome")


def decision_table(decision: StepDecision, title: str | None = None) -> Table:
    heading = title or f"step decision: {decision.outcome.value}"
    table = Table(title=heading, title_style=outcome_style(decision.outcome))
    for col in VERDICT_TABLE_HEADER:
        table.add_column(col, justify="right" if col.startswith(("n ", "est")) else "left")
    verdicts = list(decision.verdicts) + ([decision.srm] if decision.srm is not None else [])
    for v in verdicts:
        cells: list[str | Text] = list(verdict_row(v))
        cells[_OUTCOME_COLUMN] = Text(str(cells[_OUTCOME_COLUMN]), style=outcome_style(v.outcome))
        table.add_row(*cells)
    return table
