from django.contrib import admin

from .models import Block, Membership, Message, Room


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "joined", "last_read"]
    readonly_fields = ["joined", "last_read"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "created_by", "created"]
    list_filter = ["kind", "created"]
    search_fields = ["name", "slug", "topic"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "room", "role", "joined"]
    list_filter = ["role", "room__kind"]
    search_fields = ["user__username", "room__name", "room__slug"]
    autocomplete_fields = ["user", "room"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "room", "author", "short_body", "created", "edited", "deleted"]
    list_filter = ["room__kind", "created", ("deleted", admin.EmptyFieldListFilter)]
    search_fields = ["body", "author__username", "room__name", "room__slug"]
    list_select_related = ["room", "author"]
    readonly_fields = ["room", "author", "client_id", "created", "edited", "deleted"]
    date_hierarchy = "created"

    @admin.display(description="body")
    def short_body(self, obj: Message) -> str:
        return obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ["blocker", "blocked", "created"]
    search_fields = ["blocker__username", "blocked__username"]
    autocomplete_fields = ["blocker", "blocked"]
