# Decodes changelog entries with Mercurial's own changelog.py, for
# TestParseChangesetMatchesMercurial. Input and output: JSON, bytes as
# latin-1 strings.
import json
import sys

from mercurial import changelog

out = []
for s in json.load(sys.stdin):
    text = s.encode('latin-1')
    try:
        c = changelog.changelogrevision(None, text, {}, False)
        t, tz = c.date
        out.append({
            'manifest': c.manifest.hex(),
            # Raw bytes: .user and .description convert to the local encoding.
            'user': text[c._offsets[0] + 1 : c._offsets[1]].decode('latin-1'),
            'time': int(t),
            'tz': tz,
            'extra': {k.decode('latin-1'): v.decode('latin-1') for k, v in c.extra.items()},
            'files': [f.decode('latin-1') for f in c.files],
            'description': text[c._offsets[3] + 2 :].decode('latin-1'),
        })
    except Exception as e:
        out.append({'error': repr(e)})
json.dump(out, sys.stdout)
