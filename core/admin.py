"""Admin actions that change what is served need their permission, and say
so: a staff member without it does not see the action, and posting it anyway
answers 403 (Django alone would only say "no action selected")."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied


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
