"""Errors of the consent registry: what is wrong and what to do, never a raw identifier."""

from __future__ import annotations

from dataclasses import dataclass


class ConsentError(ValueError):
    """A request the registry refuses; ``code`` is stable for API clients."""

    def __init__(self, message: str, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.code = code


class NotFound(ConsentError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="not_found")


class IdempotencyConflict(ConsentError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="idempotency_conflict")


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    reason: str

    def describe(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"


class BulkValidationError(ConsentError):
    """A bulk file with bad rows: every one is listed and nothing was written."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        shown = "\n".join(e.describe() for e in errors[:50])
        more = f"\n… and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(
            f"{len(errors)} invalid row(s); nothing was imported. Fix them, or pass --skip-invalid to "
            f"import the good rows and write the bad ones to a rejects file.\n{shown}{more}",
            code="invalid_rows",
        )
