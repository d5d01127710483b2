# Reads the objects named on stdin (one hex SHA a line) from the repository
# given as argv[1] with dulwich (as hg-git does) and prints, one a line,
# "<sha> <type> <sha1 of the object recomputed from its bytes>".
import sys
from dulwich.repo import Repo

repo = Repo(sys.argv[1])
for line in sys.stdin:
    sha = line.strip().encode()
    if not sha:
        continue
    obj = repo.object_store[sha]
    obj._sha = None  # recompute from the bytes read
    print(sha.decode(), obj.type_name.decode(), obj.sha().hexdigest())
