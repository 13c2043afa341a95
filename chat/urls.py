from django.contrib.auth import views as auth_views
from django.urls import path

from . import api, views

urlpatterns = [
    path("", views.lobby, name="lobby"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("rooms/new/", views.room_create, name="room_create"),
    path("rooms/<slug:slug>/", views.room_detail, name="room"),
    path("rooms/<slug:slug>/members/", views.room_add_member, name="room_add_member"),
    path("rooms/<slug:slug>/settings/", views.room_settings, name="room_settings"),
    path("rooms/<slug:slug>/leave/", views.room_leave, name="room_leave"),
    path("dm/<str:username>/", views.direct, name="direct"),
    path("settings/blocks/", views.block_settings, name="block_settings"),
    path("settings/tokens/", views.token_settings, name="token_settings"),
    path("settings/bots/", views.bot_settings, name="bot_settings"),
    path("api/rooms/", api.room_list, name="api_rooms"),
    path("api/rooms/<slug:slug>/messages/", api.room_messages, name="api_messages"),
    path("api/direct/<str:username>/", api.direct, name="api_direct"),
    path("api/search/", api.search_messages, name="api_search"),
    path("api/tickets/", api.ticket, name="api_tickets"),
    path("api/users/", api.users, name="api_users"),
    path("api/rooms/<slug:slug>/uploads/", api.room_uploads, name="api_uploads"),
    path(
        "files/<str:attachment_id>/thumbnail/",
        views.download,
        {"thumbnail": True},
        name="thumbnail",
    ),
    path("files/<str:attachment_id>/<path:name>", views.download, name="download"),
    path("healthz", views.healthz, name="healthz"),
]
