"""One exception family for the project, with the offending values kept as fields.

Tests assert on the fields; the message follows one template (file, dotted path, line, what
was expected, what was found, and a fix where one exists).
"""

from __future__ import annotations


class SrdiError(Exception):
    """Base of every error the project raises on purpose."""


class ScenarioError(SrdiError, ValueError):
    """A scenario (or criteria, or sweep) file that cannot be used as written.

    Attributes:
        file: the file the problem is in.
        path: dotted path of the field (``levers.awards.by_tier.provincial_srdi.value``).
        line: 1-based line in the file, or None when the field is absent.
        expected: what the field must be.
        found: what was there.
        fix: a suggestion, or None.
        kind: short machine-readable category (``unknown_key``, ``wrong_type``, ...).
    """

    def __init__(
        self,
        file: str,
        path: str,
        expected: str,
        found: str,
        line: int | None = None,
        fix: str | None = None,
        kind: str = "invalid",
    ) -> None:
        self.file = str(file)
        self.path = path
        self.line = line
        self.expected = expected
        self.found = found
        self.fix = fix
        self.kind = kind
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = f"{self.file}" + (f" (line {self.line})" if self.line else "")
        field = f"The '{self.path}' value" if self.path else "The document"
        text = f"{field} in {where} must be {self.expected}. Got {self.found} instead."
        if self.fix:
            text += f" {self.fix}"
        return text


class ScenarioErrors(SrdiError, ValueError):
    """Every problem found in one or more files, reported together."""

    def __init__(self, errors: list[ScenarioError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(e.message for e in self.errors))
