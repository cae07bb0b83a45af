"""Robot pools (API.md §12): robots that may each run a pool task's jobs.

A pool groups robots (a robot may belong to several); a task with a pool (`Task.pool`) runs on
whichever member is free (the claim: jobs.queue). The pool itself holds no state about runs.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class Pool(models.Model):
    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True, default="")
    accounts = models.ManyToManyField(
        "accounts.Account", related_name="pools", blank=True, verbose_name=_("robots")
    )
    # A Yingdao robot group (its robotClientGroupUuid): the pool's `yingdao` robots are then
    # dispatched as one group start with executeScope "any" (yingdao/backend.py).
    yingdao_group_uuid = models.CharField(_("Yingdao group UUID"), max_length=64, blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("robot pool")
        verbose_name_plural = _("robot pools")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
