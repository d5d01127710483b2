"""testextra: a Mercurial extension for the conformance tests.

Every `testextra.KEY = VALUE` setting is added to the extras of the
changesets committed (VALUE may use Python escapes, e.g. \\xe9).
Setting `testextra-raw.user` / `testextra-raw.desc` (Python escapes)
stores those bytes as the user / description without re-encoding, as
ancient Mercurial versions did, to produce non-UTF-8 changesets.
"""
import codecs

from mercurial import encoding, extensions, localrepo


def _unescape(v):
    return codecs.escape_decode(v)[0]


def reposetup(ui, repo):
    class extrarepo(repo.__class__):
        def commitctx(self, ctx, *args, **kwargs):
            extra = ctx.extra()
            for k, v in self.ui.configitems(b'testextra'):
                extra[k] = _unescape(v)
            raw_user = self.ui.config(b'testextra-raw', b'user')
            raw_desc = self.ui.config(b'testextra-raw', b'desc')
            if raw_user is not None:
                u = _unescape(raw_user)
                ctx._user = encoding.localstr(u, u)
            if raw_desc is not None:
                d = _unescape(raw_desc)
                ctx._text = encoding.localstr(d, d)
            return super(extrarepo, self).commitctx(ctx, *args, **kwargs)

    repo.__class__ = extrarepo
