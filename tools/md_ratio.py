"""Markdown lines against code lines per notebook, blank lines left out (issue #13 measures how much the notebooks
teach so): `python tools/md_ratio.py [NB...]`."""
import json, sys
from pathlib import Path

def lines(nb_path):
    "(markdown lines, code lines) of a notebook, blank lines not counted."
    cells = json.loads(Path(nb_path).read_text())['cells']
    n = lambda t: sum(1 for c in cells if c['cell_type'] == t for l in ''.join(c['source']).splitlines() if l.strip())
    return n('markdown'), n('code')

if __name__ == '__main__':
    paths = sys.argv[1:] or sorted(str(p) for p in Path('nbs').rglob('*.ipynb'))
    for p in paths:
        m, c = lines(p)
        print(f'{Path(p).stem:18} {m:5} {c:5} {m / max(c, 1):5.2f}')
