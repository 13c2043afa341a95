"""The site in English and in Simplified Chinese: who gets which, the switcher, and the catalogues.

English stays the default (every other page test reads English without Accept-Language), so
these tests ask for Chinese explicitly and check words a Chinese reader sees on the page.
"""

import json
import re
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from chat import errors
from chat.management.commands import checkmessages
from chat.models import Message, Report

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN"}
YEAR = 365 * 24 * 3600


def logged_in(user, **headers: str) -> Client:
    client = Client(**headers)
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def test_login_page_in_chinese(client, db):
    page = text(client.get("/accounts/login/", **ZH))
    assert '<html lang="zh-Hans">' in page
    assert "欢迎回来" in page and "登录" in page and "注册账号" in page
    assert "Welcome back" not in page


def test_login_page_in_english_by_default(client, db):
    page = text(client.get("/accounts/login/"))
    assert '<html lang="en">' in page
    assert "Welcome back" in page and "欢迎回来" not in page
    # The switcher names the other language in that language.
    assert "简体中文" in page


@pytest.mark.parametrize(
    ("accept", "chinese"),
    [("zh", True), ("zh-Hans", True), ("zh-CN", True), ("zh-TW", True), ("fr", False)],
)
def test_accept_language_picks_the_language(client, db, accept, chinese):
    page = text(client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE=accept))
    assert ('<html lang="zh-Hans">' in page) is chinese
    assert ("欢迎回来" in page) is chinese
    assert ("Welcome back" in page) is not chinese


def test_lobby_in_chinese(alice, public_room):
    page = text(logged_in(alice, **ZH).get("/"))
    assert '<html lang="zh-Hans">' in page
    assert "欢迎，alice" in page
    assert "创建频道" in page and "私信" in page and "频道" in page
    assert "退出登录" in page


def test_room_page_in_chinese(alice, public_room):
    page = text(logged_in(alice, **ZH).get(f"/rooms/{public_room.slug}/"))
    assert "公开频道" in page and "成员" in page and "发送" in page
    assert "发消息到 #General" in page
    assert "你是此频道的所有者。" in page


def test_room_settings_in_chinese(alice, members):
    page = text(logged_in(alice, **ZH).get(f"/rooms/{members.slug}/settings/"))
    assert "频道设置" in page and "2 位成员" in page and "慢速模式" in page
    assert "生效中的封禁" in page and "按用户名封禁" in page and "此频道中没有人被封禁。" in page
    assert "禁言 <strong data-panel-name></strong>：" in page


def test_room_page_in_english(alice, public_room):
    page = text(logged_in(alice).get(f"/rooms/{public_room.slug}/"))
    assert '<html lang="en">' in page
    assert "Public room" in page and "Message #General" in page


def test_switcher_sets_a_cookie_for_a_year(client, db):
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "zh-hans" and int(cookie["max-age"]) == YEAR
    # The choice beats the browser's Accept-Language.
    page = text(client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en"))
    assert '<html lang="zh-Hans">' in page and "欢迎回来" in page


def test_switcher_back_to_english(client, db):
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = text(client.get("/accounts/login/", **ZH))
    assert '<html lang="en">' in page and "Welcome back" in page


def test_switcher_refuses_what_it_should(db):
    """The switcher is a door too: no redirect off the site, no change without the form's
    CSRF token, and no language the site does not speak."""
    client = Client()
    away = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "https://evil.example/"})
    assert away.status_code == 302 and "evil.example" not in away["Location"]
    forged = Client(enforce_csrf_checks=True).post("/i18n/setlang/", {"language": "zh-hans"})
    assert forged.status_code == 403
    assert settings.LANGUAGE_COOKIE_NAME not in forged.cookies
    bogus = client.post("/i18n/setlang/", {"language": "xx-evil", "next": "/"})
    assert settings.LANGUAGE_COOKIE_NAME not in bogus.cookies
    # The first choice (made with the unsafe `next`) stands.
    assert '<html lang="zh-Hans">' in text(client.get("/accounts/login/"))


def test_signup_error_in_chinese(client, db):
    response = client.post(
        "/accounts/signup/",
        {"username": "x", "password1": "a-long-test-password-17", "password2": "other"},
        **ZH,
    )
    page = text(response)
    assert response.status_code == 200
    assert "输入的两个密码不一致。" in page and "注册账号" in page


def test_service_error_in_chinese(alice):
    response = logged_in(alice, **ZH).post("/settings/blocks/", {"username": "nobody"})
    assert response.status_code == 400
    assert "没有名为“nobody”的用户。" in text(response)


def test_flash_message_in_chinese(alice, bob):
    client = logged_in(alice, **ZH)
    response = client.post("/settings/blocks/", {"username": "bob"}, follow=True)
    assert "你已屏蔽 bob。" in text(response)


def test_admin_in_chinese(staff, bob, members):
    message = Message.objects.create(room=members, author=bob, body="spam")
    Report.objects.create(message=message, reporter=staff)
    client = logged_in(staff, **ZH)
    index = text(client.get("/admin/"))
    assert "频道" in index and "管理日志" in index and "举报" in index
    reports = text(client.get("/admin/chat/report/"))
    assert "删除该消息，并在频道中封禁其作者" in reports
    assert "在频道中禁言作者 1 小时" in reports and "待处理" in reports


def test_js_catalog_for_the_page_language(alice):
    client = logged_in(alice, **ZH)
    url = client.get("/").context["js_catalog_url"]
    assert url.startswith("/jsi18n/zh-hans/")
    response = client.get(url)
    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]
    cache_control = response["Cache-Control"]
    assert f"max-age={YEAR}" in cache_control and "immutable" in cache_control
    assert "django.gettext" in text(response)
    assert '"Connected": "\\u5df2\\u8fde\\u63a5"' in text(response)  # 已连接, JSON-escaped


def test_js_catalog_in_english_has_no_translations(alice):
    url = logged_in(alice).get("/").context["js_catalog_url"]
    assert url.startswith("/jsi18n/en/")
    assert "\\u5df2" not in text(logged_in(alice).get(url))


def test_js_catalog_refuses_other_languages(client, db):
    url = reverse("js_catalog", kwargs={"language": "fr", "version": "0"})
    assert client.get(url).status_code == 404


def test_error_messages_are_plain_strings_for_socket_frames():
    """Frames are JSON: a lazy translation there would not serialise."""
    for error in (errors.Forbidden(), errors.RateLimited(), errors.Unavailable()):
        assert type(error.message) is str
        json.dumps({"message": error.message})


def copied_locale(tmp_path: Path) -> Path:
    copy = tmp_path / "locale"
    shutil.copytree(settings.LOCALE_PATHS[0], copy)
    return copy


def rewrite_translation(locale: Path, msgid: str, string: str) -> None:
    """Change one msgstr in the .po only, leaving its .mo as it was."""
    po_path = locale / "zh_Hans" / "LC_MESSAGES" / "django.po"
    with po_path.open("rb") as f:
        catalog = read_po(f)
    catalog[msgid].string = string
    with po_path.open("wb") as f:
        write_po(f, catalog)


def test_checkmessages_fails_on_a_missing_translation(tmp_path):
    locale = copied_locale(tmp_path)
    rewrite_translation(locale, "Welcome back", "")
    with pytest.raises(CommandError, match="'Welcome back' has no Chinese translation"):
        call_command("checkmessages", locale_dir=locale)


def test_checkmessages_fails_on_a_stale_mo(tmp_path):
    locale = copied_locale(tmp_path)
    rewrite_translation(locale, "Welcome back", "欢迎回来！")
    stale = re.escape("'Welcome back': the .mo differs from the .po")
    with pytest.raises(CommandError, match=stale):
        call_command("checkmessages", locale_dir=locale)


def test_every_message_of_pages_and_client_has_a_chinese_translation():
    assert checkmessages.problems(settings.BASE_DIR, settings.LOCALE_PATHS[0]) == []


def test_checkmessages_finds_a_new_string_of_the_source(tmp_path):
    """A string added to a template or the client without `make messages` is reported."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "new.html").write_text(
        '{% load i18n %}<p>{% translate "Nobody has translated this yet" %}</p>'
    )
    (tmp_path / "chat" / "static").mkdir(parents=True)
    (tmp_path / "chat" / "static" / "new.js").write_text(
        'const words = { fresh: gettext_noop("A brand new client string") };\n'
    )
    found = checkmessages.problems(tmp_path, settings.LOCALE_PATHS[0])
    assert any("'Nobody has translated this yet' is not in the catalogue" in p for p in found)
    assert any("'A brand new client string' is not in the catalogue" in p for p in found)
