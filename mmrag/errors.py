"""Error types with messages a user can act on; the CLI turns each into one line and a non-zero exit."""

from __future__ import annotations


class MMRagError(Exception):
    """Base of every error mmrag raises on purpose."""


class BadPDF(MMRagError):
    """A file that cannot be ingested; the message names the file and the reason."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # picklable: it crosses process and Ray boundaries
        return (type(self), (self.path, self.reason))


class EncryptedPDF(BadPDF):
    """The PDF needs a password."""


class CorruptPDF(BadPDF):
    """The file is not a readable PDF (corrupt, truncated, not a PDF at all)."""


class EmptyPDF(BadPDF):
    """The PDF has no pages."""


class ModelUnavailable(MMRagError):
    """A model's weights could not be resolved offline; the message says how to provide them."""

    def __init__(self, name: str, role: str, remedy: str) -> None:
        self.name = name
        self.role = role
        self.remedy = remedy
        super().__init__(f"{role} model '{name}' is not available: {remedy}")

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:  # picklable: it crosses process and Ray boundaries
        return (type(self), (self.name, self.role, self.remedy))


class SettingsError(MMRagError, KeyError):
    """A settings file, override or flag names an unknown key or a value outside the allowed ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class IndexLocked(MMRagError):
    """Another process holds the index's writer lock."""


class IndexNotFound(MMRagError):
    """No index at the given path."""


class IndexDamaged(MMRagError):
    """`mmrag check` found problems it was not asked to (or could not) repair."""


class StaleVectors(MMRagError):
    """Stored vectors were made with other models or settings than the current ones."""


class GeneratorError(MMRagError):
    """A generator backend is misconfigured or its server failed (unreachable, HTTP error, bad reply)."""
