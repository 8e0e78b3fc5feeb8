"""Failed log-ins counted per username and address (core.ratelimit.LOGIN_FAILURES), and
API tokens revoked when a member's password changes (by the member, a
curator in the admin or the changepassword command)."""

from django.contrib.auth.signals import user_login_failed
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from accounts.models import User
from accounts.services import api_tokens_revoke_all
from core.ratelimit import count_failure


@receiver(user_login_failed, dispatch_uid="accounts.count_login_failure")
def count_login_failure(sender, credentials, request=None, **kwargs):
    count_failure(credentials.get("username", ""), request)


@receiver(pre_save, sender=User, dispatch_uid="accounts.note_password_change")
def note_password_change(sender, instance, update_fields=None, **kwargs):
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return  # a new member, or a save that leaves the password alone (last_login)
    before = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    instance._password_changed = before is not None and before != instance.password


@receiver(post_save, sender=User, dispatch_uid="accounts.revoke_tokens_on_password_change")
def revoke_tokens_on_password_change(sender, instance, **kwargs):
    if getattr(instance, "_password_changed", False):
        instance._password_changed = False
        api_tokens_revoke_all(user_id=instance.pk)
