"""Static files in production: WhiteNoise's compressed, hashed copies, with the hashed names
written into the client's `import` statements too.

The client is ES modules without a build step (chat/static/chat/): each file imports its
neighbours by relative path. Django rewrites those paths to the hashed names when
`support_js_module_import_aggregation` is on, so that every module can be cached forever and a
page never mixes an old module with a new one. A module's hash depends on the hashes of what it
imports, so each level of imports takes one more pass: the limit is raised above the depth of
the client's import chains.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
    max_post_process_passes = 12
