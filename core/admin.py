"""Admin actions that change what is served need their permission, and say
so: a staff member without it does not see the action, and posting it anyway
answers 403 (Django alone would only say "no action selected")."""

from __future__ import annotations

import functools
import logging

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied
from django.db import DataError
from django.http import HttpResponseRedirect

log = logging.getLogger("core.admin")


class GuardedActionsMixin:
    # action name -> permission ("app_label.codename")
    action_permissions: dict[str, str] = {}

    def _may(self, request, action: str) -> bool:
        needed = self.action_permissions.get(action)
        return needed is None or request.user.has_perm(needed)

    def get_actions(self, request):
        actions = super().get_actions(request)
        return {name: a for name, a in actions.items() if self._may(request, name)}

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST":
            action = request.POST.get("action", "")
            if action in self.action_permissions and not self._may(request, action):
                raise PermissionDenied(f"You may not {action.replace('_', ' ')}.")
        return super().changelist_view(request, extra_context)


class ResilientAdminSite(AdminSite):
    """The admin, where a changelist filter that no database can compare
    (a 20-digit id, year -1 or 0) answers like any other bad filter, with
    Django's own "?e=1" page, instead of a 500. Query strings with NUL bytes
    never get here (core.middleware)."""

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                return inner(request, *args, **kwargs)
            except (OverflowError, DataError, ValueError) as error:
                match = request.resolver_match
                listing = match is not None and (match.url_name or "").endswith("_changelist")
                if request.method != "GET" or not listing or request.GET.get("e") == "1":
                    raise
                log.info("bad changelist filter %s: %s", request.get_full_path()[:200], error)
                return HttpResponseRedirect(request.path + "?e=1")

        return wrapper


class ResilientAdminConfig(AdminConfig):
    default_site = "core.admin.ResilientAdminSite"
