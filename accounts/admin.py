from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import User


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
