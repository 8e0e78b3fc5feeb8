from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import ApiToken, User
from accounts.services import user_delete, user_taste_changed


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "age", "gender", "occupation", "zip_code", "source", "is_staff")
    list_filter = ("source", "gender", "occupation", "is_staff", "is_active")
    search_fields = ("username", "email", "zip_code")
    readonly_fields = ("source", "movielens_id", "last_login", "date_joined")
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Demographics", {"fields": ("age", "gender", "occupation", "zip_code")}),
        ("Origin", {"fields": ("source", "movielens_id")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Demographics", {"fields": ("age", "gender", "occupation", "zip_code")}),
    )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and set(form.changed_data) & {"age", "gender", "occupation", "zip_code"}:
            # Demographics are model inputs: the member's cached lists are stale.
            user_taste_changed(user_id=obj.pk)

    def delete_model(self, request, obj):
        user_delete(user=obj)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            user_delete(user=user)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens by their prefix: the secret is never stored, nor is its hash shown."""

    list_display = ("prefix", "user", "created_at", "last_used_at", "expires")
    list_select_related = ("user",)
    search_fields = ("prefix", "user__username")
    fields = ("prefix", "user", "created_at", "last_used_at", "expires")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # made by the member (profile page, API); shown to them once

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="expires")
    def expires(self, token):
        return token.expires_at
