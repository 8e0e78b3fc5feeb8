"""Failed log-ins, counted per username (core.ratelimit.LOGIN_FAILURES)."""

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from core.ratelimit import count_failure


@receiver(user_login_failed, dispatch_uid="accounts.count_login_failure")
def count_login_failure(sender, credentials, request=None, **kwargs):
    count_failure(credentials.get("username", ""))
