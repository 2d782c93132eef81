"""Who may do what in the review workspace: three roles, each allowed what the one below may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A review user's role: editors edit, approvers release and send, admins manage the workspace."""

    EDITOR = "editor"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """The role's place in the hierarchy (editor < approver < admin)."""
        return list(Role).index(self)

    def allows(self, required: Role) -> bool:
        """Whether a user with this role may do what `required` may."""
        return self.rank >= required.rank
