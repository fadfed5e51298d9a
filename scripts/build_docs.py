"""Build docs/*.md from docs/src/*.md templates, pasting real files and real tool output.

Usage: .venv/bin/python scripts/build_docs.py   (regenerates docs/X.md from every docs/src/X.md)

Template directives: @@file PATH@@ -> a ```flow PATH block holding the file verbatim;
@@cat PATH@@ -> the raw text of a file; @@run CWD :: CMD@@ -> `$ CMD` and its real output;
@@out CWD :: CMD@@ -> only the output. ``$DEMO`` in paths is the folder of broken snippets
made by docs/src/snippets.sh; ``.`` is the repository root.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv", "bin") + "/"
DEMO = os.environ.get("DEMO", "/tmp/flowsim-doc-snippets")


def expand(text):
    def file_block(m):
        path = m.group(1)
        body = Path(ROOT, path).read_text(encoding="utf-8")
        assert body.endswith("\n")
        return f"```flow {path}\n{body}```"

    def cat(m):
        body = Path(m.group(1).replace("$DEMO", DEMO)).read_text(encoding="utf-8")
        return body.rstrip("\n")

    def run(m):
        cwd, cmd = m.group(1).strip().replace("$DEMO", DEMO), m.group(2).strip()
        cwd = ROOT if cwd == "." else cwd
        shown = cmd
        env = dict(os.environ, PATH=VENV.rstrip("/") + ":" + os.environ["PATH"], COLUMNS="100")
        res = subprocess.run(
            cmd,
            shell=True,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        out = res.stdout.rstrip("\n")
        return f"$ {shown}\n{out}" if out else f"$ {shown}"

    text = re.sub(r"^@@file (\S+)@@$", file_block, text, flags=re.M)
    text = re.sub(r"@@cat (\S+)@@", cat, text)
    text = re.sub(r"@@run (.+?) :: (.+?)@@", run, text)
    text = re.sub(r"@@out (.+?) :: (.+?)@@", lambda m: run(m).split("\n", 1)[1], text)
    return text


def main() -> None:
    subprocess.run(
        ["bash", os.path.join(ROOT, "docs", "src", "snippets.sh")],
        check=True,
        env=dict(os.environ, DEMO=DEMO),
        stdout=subprocess.DEVNULL,
    )
    names = sys.argv[1:] or sorted(p.name for p in Path(ROOT, "docs", "src").glob("*.md"))
    for name in names:
        src = os.path.join(ROOT, "docs", "src", name)
        dst = os.path.join(ROOT, "docs", name)
        out = expand(Path(src).read_text(encoding="utf-8"))
        left = re.findall(r"@@\w+", out)
        assert not left, left
        Path(dst).write_text(out, encoding="utf-8")
        print("wrote", dst)


if __name__ == "__main__":
    main()
