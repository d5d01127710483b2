# Oracle for EncodeCommit: reads a JSON list of commits (byte strings in
# base64) on stdin, builds each with dulwich (the library hg-git serialises
# commits with) and prints, one a line, base64 of dulwich's raw commit bytes,
# or "ERROR <message>" when dulwich refuses the commit.
import base64, json, sys
from dulwich.objects import Commit, parse_timezone

def b(s):
    return base64.b64decode(s)

for spec in json.load(sys.stdin):
    try:
        c = Commit()
        c.tree = b(spec["tree"])
        c.parents = [b(p) for p in spec["parents"] or []]
        for who in ("author", "committer"):
            name, time, tz = b(spec[who]).rsplit(b" ", 2)
            offset, neg = parse_timezone(tz)
            setattr(c, who, name)
            if who == "author":
                c.author_time, c.author_timezone = int(time), offset
                c._author_timezone_neg_utc = neg
            else:
                c.commit_time, c.commit_timezone = int(time), offset
                c._commit_timezone_neg_utc = neg
        if spec.get("encoding"):
            c.encoding = b(spec["encoding"])
        for k, v in spec.get("extra") or []:
            c.extra.append((b(k), b(v)))
        if spec.get("gpgsig"):
            c.gpgsig = b(spec["gpgsig"])
        c.message = b(spec["message"])
        print(base64.b64encode(c.as_raw_string()).decode())
    except Exception as e:
        print("ERROR", repr(e).replace("\n", " "))
