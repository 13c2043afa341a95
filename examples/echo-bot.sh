#!/bin/sh
# An echo bot: answers each message in the room with what was said, and who said it.
#
#   python -m chat.bridge --room general -- examples/echo-bot.sh
#
# The bridge writes one line per message on stdin ("author: body") and posts each line written
# on stdout. The shell's printf writes each line at once, so nothing waits in a buffer.
echo "echo bot ready" >&2
while IFS= read -r line; do
    author=${line%%: *}
    body=${line#*: }
    printf '%s said: %s\n' "$author" "$body"
done
