"""Audit log: who did what, when and from where (read and exported by administrators).

Other domains record administrative actions with
``tsunagu.audit.record(session, tenant_id, actor, action, target, ip, detail)`` inside their own
transaction.
"""

from tsunagu.audit.service import record

__all__ = ["record"]
