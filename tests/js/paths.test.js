import assert from "node:assert/strict";
import { test } from "node:test";

import { addMemberUrl, dmUrl, leaveUrl, loginUrl, roomSettingsUrl, roomUrl, slugFromPath, usersApi } from "../../chat/static/chat/core/paths.js";

test("the site's addresses, with what users typed encoded", () => {
  assert.equal(roomUrl("general"), "/rooms/general/");
  assert.equal(roomSettingsUrl("general"), "/rooms/general/settings/");
  assert.equal(addMemberUrl("plans"), "/rooms/plans/members/");
  assert.equal(leaveUrl("plans"), "/rooms/plans/leave/");
  assert.equal(dmUrl("a+b@c"), "/dm/a%2Bb%40c/");
  assert.equal(usersApi("bo b"), "/api/users/?q=bo%20b");
  assert.equal(loginUrl("/rooms/x/"), "/accounts/login/?next=%2Frooms%2Fx%2F");
});

test("a room page's slug from its path; nothing for any other page", () => {
  assert.equal(slugFromPath("/rooms/general/"), "general");
  assert.equal(slugFromPath("/rooms/dm-3-17/"), "dm-3-17");
  assert.equal(slugFromPath("/rooms/general/settings/"), null);
  assert.equal(slugFromPath("/rooms/general"), null);
  assert.equal(slugFromPath("/"), null);
  assert.equal(slugFromPath("/rooms/%E0%A4%A/"), null);
});
