"""wdh as a library: resolve a DataFrame in process, as `wdh resolve` resolves a file.

    import wdh_cli

    result = wdh_cli.resolve_frame(frame)   # a polars or pandas DataFrame, or a pyarrow Table
    result.frame     # the same kind of object: every column unchanged, plus company_id
                     # and company_id_source
    result.figures   # the figures of `wdh resolve --json` (less `output`)

The same engine as the CLI (wdh_cli/resolution/), the same settings (the
environment, `.env`, the embedded server when no database URL is set), the
same answers, figures and database effects; failures raise the `WdhError`
the CLI would print (docs/api.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from wdh_cli.errors import UsageError

F = TypeVar("F")  # the kind of frame given, and given back
log = logging.getLogger("wdh")


@dataclass(frozen=True)
class ResolveResult(Generic[F]):
    """What `resolve_frame` returns."""

    frame: F  # the frame given, with company_id and company_id_source
    figures: dict[str, Any] = field(default_factory=dict)  # `wdh resolve --json`'s keys


def resolve_frame(
    frame: F,
    *,
    database_url: str | None = None,
    budget: int | None = None,
    provider: str | None = None,
    queue: bool = True,
    backflow: bool = True,
    offline: bool = False,
    plan_only: bool = False,
    require_db: bool = False,
    columns: Mapping[str, str] | None = None,
) -> ResolveResult[F]:
    """Give every row of `frame` its company ID, as `wdh resolve` does for a file's rows.

    `frame`: a polars DataFrame, a pandas DataFrame (the `pandas` extra) or a
    pyarrow Table; the result's frame is of the same kind. `database_url`,
    `budget` and `provider` default to the settings, as the CLI's options do;
    `columns` renames the columns read and written, by the CLI's option
    names without `--col-`: {"name": "客户名称", "output": "company_id"}.
    A blank row (every cell empty) gets no answer and is not counted.
    """
    from wdh_cli.config import load_settings
    from wdh_cli.db import Database
    from wdh_cli.providers.names import ProviderName
    from wdh_cli.reports import to_json
    from wdh_cli.resolution.options import Columns, ResolveOptions
    from wdh_cli.tabular.frames import resolve_polars

    settings = load_settings(database_url=database_url)
    try:
        chosen = ProviderName(provider) if provider is not None else None
    except ValueError:
        names = ", ".join(p.value for p in ProviderName)
        raise UsageError(f"provider={provider!r}: expected one of {names}") from None
    options = ResolveOptions(
        columns=_columns(Columns, columns),
        budget=budget if budget is not None else settings.sync_lookup_budget,
        backflow=backflow,
        queue=queue,
        provider=chosen,
        offline=offline,
        plan_only=plan_only,
        require_db=require_db,
    )
    polars_frame = _as_polars(frame)
    answers, stats = resolve_polars(
        settings, Database(settings, purpose="api"), polars_frame, options, warn=log.warning
    )
    figures: dict[str, Any] = to_json(stats)
    figures.pop("output", None)
    return ResolveResult(_with_answers(frame, answers), figures)


def _columns(kind: Any, renames: Mapping[str, str] | None) -> Any:
    known = set(kind.__dataclass_fields__)
    unknown = sorted(set(renames or {}) - known)
    if unknown:
        raise UsageError(
            f"columns: no such column role {', '.join(map(repr, unknown))} "
            f"(expected some of {', '.join(sorted(known))})"
        )
    return kind(**dict(renames or {}))


def _as_polars(frame: Any) -> Any:
    """The frame as a polars DataFrame, to read its cells (UsageError for other objects)."""
    import polars as pl

    if isinstance(frame, pl.DataFrame):
        return frame
    module = type(frame).__module__.split(".")[0]
    if module == "pyarrow":
        return pl.from_arrow(frame)
    if module == "pandas":
        named = frame.columns[frame.columns.duplicated()]
        if len(named):
            names = ", ".join(sorted({repr(name) for name in named}))
            raise UsageError(
                f"the frame has more than one column named {names}: rename all but one"
            )
        try:
            return pl.from_pandas(frame)
        except ImportError as exc:
            raise UsageError("a pandas DataFrame needs pyarrow: install wdh-cli[pandas]") from exc
        except (TypeError, ValueError):  # pyarrow's ArrowTypeError and ArrowInvalid
            return _mixed_pandas(frame)
    raise UsageError(
        f"resolve_frame takes a polars or pandas DataFrame or a pyarrow Table, not "
        f"{type(frame).__module__}.{type(frame).__name__}"
    )


def _mixed_pandas(frame: Any) -> Any:
    """A pandas frame pyarrow cannot take whole: an object column mixing text and numbers
    (as pandas reads a spreadsheet's column) becomes the text of its cells, each distinct
    value made text once (`cell_text`, as a sheet's cell is read)."""
    import pandas as pd  # type: ignore[import-untyped]  # an optional extra, without stubs
    import polars as pl

    from wdh_cli.tabular.sheets import cell_text

    columns = []
    for name in frame.columns:
        series = frame[name]
        try:
            columns.append(pl.from_pandas(series.to_frame(str(name))).to_series())
            continue
        except (TypeError, ValueError):
            pass
        try:
            codes, distinct = pd.factorize(series)  # -1 where the cell is missing
        except TypeError:  # unhashable values (lists, dicts)
            raise UsageError(
                f"the frame's column {name!r} holds values wdh cannot read as text"
            ) from None
        texts = pl.Series([*(cell_text(value) for value in distinct), None], dtype=pl.String)
        columns.append(texts.gather(pl.Series(codes).replace(-1, len(distinct))).alias(str(name)))
    return pl.DataFrame(columns)


def _with_answers(frame: Any, answers: Any) -> Any:
    """The frame given, untouched but for its two answer columns (replaced if it had them)."""
    import polars as pl

    if isinstance(frame, pl.DataFrame):
        return frame.with_columns(answers)
    if type(frame).__module__.split(".")[0] == "pyarrow":
        table = frame
        for name in answers.columns:
            column = answers.get_column(name).to_arrow()
            at = table.schema.get_field_index(name)
            table = (
                table.set_column(at, name, column) if at >= 0 else table.append_column(name, column)
            )
        return table
    result = frame.copy()  # pandas: the frame's own index and dtypes stay
    for name in answers.columns:
        result[name] = answers.get_column(name).to_list()
    return result
