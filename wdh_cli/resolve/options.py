"""What a resolve run is asked to do: column names, budget, flags."""

from __future__ import annotations

from dataclasses import dataclass, field

# The levels in resolution order: (match_type, which key of the row it uses).
LEVELS: tuple[tuple[str, str], ...] = (
    ("plan", "plan"),
    ("account", "account"),
    ("hardcode", "plan"),
    ("name", "name"),
    ("account_name", "account_name"),
)


@dataclass(frozen=True)
class Columns:
    """Input column names (the contract's defaults) and the output column."""

    plan: str = "计划代码"
    account: str = "年金账户号"
    name: str = "客户名称"
    account_name: str = "年金账户名"
    existing: str = "公司代码"
    output: str = "company_id"

    @property
    def output_source(self) -> str:
        return f"{self.output}_source"


@dataclass(frozen=True)
class ResolveOptions:
    """The strategy of one run."""

    columns: Columns = field(default_factory=Columns)
    budget: int = 0
    backflow: bool = True
    queue: bool = True
    provider: str | None = None  # None: WDH_PROVIDER
    offline: bool = False
    plan_only: bool = False
    require_db: bool = False
    batch_size: int = 5000
