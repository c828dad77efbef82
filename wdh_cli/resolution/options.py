"""What a resolve run is asked to do: column names, budget, flags."""

from __future__ import annotations

from dataclasses import dataclass, field

from wdh_cli.errors import UsageError
from wdh_cli.mappings import levels
from wdh_cli.providers.names import ProviderName


@dataclass(frozen=True)
class Columns:
    """Input column names, one per row field of the level table, and the output column.

    The attribute names are the fields (`wdh_cli.mappings.levels`); the values
    are the headers, renamed by the `--col-*` options.
    """

    plan: str = "计划代码"
    account: str = "年金账户号"
    name: str = "客户名称"
    account_name: str = "年金账户名"
    existing: str = "公司代码"
    output: str = "company_id"

    @property
    def output_source(self) -> str:
        return f"{self.output}_source"

    def read(self) -> dict[str, str]:
        """The header resolve reads for each row field (the level table's, and `existing`).

        UsageError (exit 2) when an output column is one of them: the run would
        overwrite what it reads.
        """
        read = {name: getattr(self, name) for name in (*levels.LEVELS.fields, "existing")}
        for name in (self.output, self.output_source):
            if name in read.values():
                raise UsageError(
                    f"--col-output {self.output}: the output column {name!r} is also a column "
                    "resolve reads; choose another output name"
                )
        return read


@dataclass(frozen=True)
class ResolveOptions:
    """The strategy of one run."""

    columns: Columns = field(default_factory=Columns)
    budget: int = 0
    backflow: bool = True
    queue: bool = True
    provider: ProviderName | None = None  # None: WDH_PROVIDER
    offline: bool = False
    plan_only: bool = False
    require_db: bool = False
