"""Build the docs site: nbdev's own notebook processors, then nbconvert writes each page as HTML and Markdown.

`nbdev-docs` does the same with Quarto as the renderer; Quarto cannot be installed here (PyPI's `quarto-cli` is a
source package whose build downloads the binary from GitHub), so nbconvert renders the pages nbdev prepared.
No lesson cell runs: `exec_docs` (named in pyproject.toml's `doc_procs`) executes only `#| export` cells, cells of
nothing but imports, and `show_doc` calls; nbdev's own `exec_show_docs` would also run every lesson cell that imports.

    python tools/docs.py [DEST]      # the site into DEST (default: _docs/ from pyproject.toml)
    python tools/docs.py --readme    # README.md from nbs/index.ipynb
"""
import ast, os, re, shutil, sys
from pathlib import Path
import nbformat
from traitlets.config import Config
from nbconvert import HTMLExporter, MarkdownExporter
from nbdev.processors import exec_show_docs, _show_docs

ROOT = Path(__file__).resolve().parent.parent
_DOC_DIRS = {'export', 'exports', 'exporti', 'exec_doc'}

class exec_docs(exec_show_docs):
    "nbdev's `exec_show_docs` without lesson cells: only definitions, plain imports and `show_doc` run"
    def __call__(self, cell):
        if cell.cell_type == 'code' and not cell.directives_.keys() & _DOC_DIRS:
            trees = cell.parsed_() or []
            plain = all(isinstance(t, (ast.Import, ast.ImportFrom)) for t in trees)
            if not (trees and plain) and not _show_docs(trees): return
        super().__call__(cell)

def readme_text(nb_path=ROOT/'nbs'/'index.ipynb'):
    "The README that `nb_path` renders to: its markdown cells, one blank line apart."
    nb = nbformat.read(nb_path, as_version=4)
    return '\n\n'.join(c.source.strip('\n') for c in nb.cells if c.cell_type == 'markdown') + '\n'

def _processed(n_workers):
    "Run nbdev's processors over nbs/ into _proc/ (what `nbdev-docs` renders), returning that folder."
    from nbdev.config import get_config
    from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
    from nbdev.serve import proc_nbs
    cfg = get_config()
    refresh_quarto_yml()
    nbdev_sidebar.__wrapped__(path=cfg.nbs_path)
    return proc_nbs(cfg.nbs_path, n_workers=n_workers, force=True), cfg

def _quarto_tags(cell):
    "The tags nbconvert needs to do what Quarto does with `#| echo: false` and `#| include: false`."
    src = cell.source if cell.cell_type == 'code' else ''
    return [t for t, d in (('echo-false', 'echo'), ('include-false', 'include'))
            if re.search(rf'^#\|\s*{d}:\s*false\s*$', src, re.M)]

def render(cache, dest):
    "Write each processed notebook in `cache` as a page into `dest`: `.html` and `.md`, plus the images they link to."
    c = Config(TagRemovePreprocessor=dict(enabled=True, remove_cell_tags={'include-false'},
                                          remove_input_tags={'echo-false'}))
    html, md = HTMLExporter(template_name='lab', config=c), MarkdownExporter(config=c)
    pages = sorted(cache.rglob('*.ipynb'))
    for p in pages:
        nb = nbformat.read(p, as_version=4)
        nb.metadata.pop('widgets', None)  # the processors save widget state; a static page shows none
        for cell in nb.cells:
            cell.metadata.pop('execution', None)  # the processors' timings, not nbformat's schema
            cell.metadata.tags = _quarto_tags(cell)
        out = dest/p.relative_to(cache).with_suffix('')
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix('.html').write_text(html.from_notebook_node(nb)[0])
        out.with_suffix('.md').write_text(md.from_notebook_node(nb)[0])
    shutil.copytree(ROOT/'images', dest/'images', dirs_exist_ok=True)
    return pages

def build(dest=None, n_workers=2):
    "Build the site into `dest` (default: pyproject.toml's `doc_path`)."
    os.chdir(ROOT)
    cache, cfg = _processed(n_workers)
    dest = Path(dest or cfg.doc_path).resolve()
    shutil.rmtree(dest, ignore_errors=True)
    print(f'{len(render(cache, dest))} pages in {dest}')
    return dest

if __name__ == '__main__':
    if sys.argv[1:] == ['--readme']: (ROOT/'README.md').write_text(readme_text())
    else: build(*sys.argv[1:2])
