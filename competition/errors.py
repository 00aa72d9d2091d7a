"""One exception type for problems the user can fix; the CLI prints it without a traceback."""


class CompError(Exception):
    """A user-facing error: the message says what is wrong and where (file, column, rows)."""


def describe_rows(rows: list[int], limit: int = 5) -> str:
    """'rows 3, 7, 9 and 12 more' with 1-based data-row numbers as a spreadsheet shows them."""
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    word = "row" if len(rows) == 1 else "rows"
    return f"{word} {shown}{more}"
