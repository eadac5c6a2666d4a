"""Validate payloads for every HOT template of a tripleo-heat-templates tree, built by Debian's
python3-heatclient exactly as `openstack orchestration template validate -t T -e E` builds them
(template with file references made absolute, `files`, merged `environment`), so Bootstack and
Heat receive the same bytes. Prints one JSON line per template: {"path", "body"} or {"path", "error"}.
Usage: python3 heat-payloads.py CORPUS_DIR ENV_FILE
"""
import json
import os
import sys

from heatclient.common import template_utils
from heatclient.common import utils
from heatclient import exc

# The corpus lacks the puppet manifests its templates get_file (they lived in another repository).
# heatclient would abort on the first one; instead the absent file is left out of `files` and
# the server reports it where it is referred to, the same for both servers.
ABSENT = '\x00absent'
_read = utils.read_url_content


def _read_or_absent(url):
    try:
        return _read(url)
    except exc.CommandError:
        return ABSENT


utils.read_url_content = _read_or_absent
template_utils.utils.read_url_content = _read_or_absent



def _text(v):
    """heatclient keeps some file contents as bytes; its own request encoder decodes them too."""
    if isinstance(v, bytes):
        return v.decode('utf-8')
    raise TypeError(type(v).__name__)


corpus, env_file = sys.argv[1], sys.argv[2]
paths = []
for root, _dirs, names in os.walk(corpus):
    for name in names:
        if name.endswith(('.yaml', '.yml')) and '/puppet/hieradata' not in root:
            paths.append(os.path.join(root, name))
for path in sorted(paths):
    rel = os.path.relpath(path, corpus)
    try:
        with open(path) as f:
            head = f.read()
        if 'heat_template_version' not in head:
            continue  # environments, merge.py fragments, CloudFormation examples: not HOT templates
        tpl_files, template = template_utils.get_template_contents(template_file=path)
        env_files, env = template_utils.process_multiple_environments_and_files(env_paths=[env_file])
        files = dict(tpl_files, **env_files)
        absent = sorted(k for k, v in files.items() if v == ABSENT)
        body = {'template': template, 'files': {k: v for k, v in files.items() if v != ABSENT}, 'environment': env}
        print(json.dumps({'path': rel, 'absent': absent, 'body': body}, default=_text))
    except Exception as e:  # heatclient refuses to build the payload (e.g. a get_file target missing)
        print(json.dumps({'path': rel, 'error': '%s: %s' % (type(e).__name__, e)}))
