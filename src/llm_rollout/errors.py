"""The exceptions llm-rollout raises on purpose.

    LlmRolloutError                 base of everything below; the CLI turns it into a message
    ├── SpecError                   a rollout spec or scenario is malformed (lists every problem)
    ├── RegistryError               unknown / ambiguous model reference, conflicting digest
    ├── StoreError                  the store cannot be opened, migrated, read or written
    │   └── ConflictError           a state change lost a race or breaks an invariant
    ├── SourceError                 a window source cannot be reached or answered nonsense
    └── InvalidDataError            records or inputs carry NaN, negative or impossible values

Foreign errors (pydantic, sqlite3, yaml) are translated at the boundary with
``raise Mapped(...) from exc`` so callers only ever catch these.
"""

from __future__ import annotations


class LlmRolloutError(Exception):
    """Base class: a problem with a clear message for the user, never a bug."""


class SpecError(LlmRolloutError):
    """A spec failed validation; ``problems`` holds one ``(field path, reason)`` per problem."""

    def __init__(self, problems: list[tuple[str, str]], source: str = "spec") -> None:
        self.problems = problems
        self.source = source
        lines = "\n".join(f"  {path}: {reason}" for path, reason in problems)
        super().__init__(f"invalid {source} ({len(problems)} problem(s)):\n{lines}")


class RegistryError(LlmRolloutError):
    """An unknown or ambiguous model reference, or a definition that contradicts its digest."""


class StoreError(LlmRolloutError):
    """The store could not be opened, migrated, read or written."""


class ConflictError(StoreError):
    """A state change conflicts with the stored state (lost race, finished rollout, ...)."""


class SourceError(LlmRolloutError):
    """A window source could not be reached, or could not answer a window query."""


class InvalidDataError(LlmRolloutError):
    """Input data is impossible: NaN, negative latency or token counts, unknown arm, ..."""
