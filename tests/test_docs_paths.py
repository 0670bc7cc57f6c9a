#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The README and docs/ cite only paths that are in the repository: every
path under one of its folders (scripts/..., bench/..., tests/...), every
script named anywhere (*.sh, *.py, even outside the tree) and every relative
Markdown link must name a file or folder that exists.

Usage: test_docs_paths.py SOURCE_DIR (exit 1 listing each missing path).
"""
import glob
import os
import re
import sys

# The repository's own folders: a path that starts with one of them is a
# claim about the tree.
FOLDERS = ("scripts", "bench", "tools", "tests", "common", "producer", "viewer",
           "gst", "python", "docs", "cmake", ".ci", "bus")
# A path-like word: not inside a URL, a longer path or an assignment's value
# that starts elsewhere (PYTHONPATH=build/python is a build output).
WORD = re.compile(r"(?<![\w.:/$-])(\.{0,2}/?[\w.*+-]+(?:/[\w.*+-]*)+|[\w.+-]+\.(?:sh|py)(?![\w-]))")
LINK = re.compile(r"\]\(([^)\s]+)\)")
SCRIPT = re.compile(r"\.(sh|py)$")


def repo_files(root):
    """Every file path relative to root, build trees left out."""
    out = []
    for top, dirs, files in os.walk(root):
        rel = os.path.relpath(top, root)
        if rel == ".":
            dirs[:] = [d for d in dirs if not d.startswith(("build", ".git"))]
        out.extend(os.path.normpath(os.path.join(rel, f)) for f in files)
    return out


def exists(root, base, path):
    for d in (root, base):
        p = os.path.join(d, path)
        if glob.glob(p) if "*" in p else os.path.exists(p):
            return True
    return False


def check(root, doc, files, seen):
    """(line number, path, why) for each missing path cited in doc; seen
    counts the paths checked."""
    base = os.path.dirname(doc)
    bad = []
    with open(doc, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            for link in LINK.findall(line):
                target = link.split("#")[0]
                if not target or re.match(r"^[a-z]+:", target):
                    continue
                seen[0] += 1
                if not os.path.exists(os.path.join(base, target)):
                    bad.append((n, target, "link target"))
            for word in WORD.findall(line):
                word = word.rstrip(".,;:")
                first = word.lstrip("./").split("/")[0]
                if SCRIPT.search(word):
                    seen[0] += 1
                    # A script: in the tree, by its path or the end of one.
                    tail = "/" + word.lstrip("./")
                    if word.startswith("/") or not (
                            exists(root, base, word)
                            or any(("/" + f).endswith(tail) for f in files)):
                        bad.append((n, word, "script"))
                elif first in FOLDERS and "/" in word.strip("/"):
                    # bus/pipe and bus/memcpy are ratios, not paths.
                    if first == "bus" and "." not in word and word.count("/") == 1:
                        continue
                    seen[0] += 1
                    if not exists(root, base, word):
                        bad.append((n, word, "path"))
    return bad


def main():
    root = os.path.realpath(sys.argv[1] if len(sys.argv) > 1 else ".")
    docs = [os.path.join(root, "README.md")] + sorted(
        glob.glob(os.path.join(root, "docs", "*.md")))
    files = repo_files(root)
    missing, seen = 0, [0]
    for doc in docs:
        for n, path, why in check(root, doc, files, seen):
            print("%s:%d: %s %s is not in the repository"
                  % (os.path.relpath(doc, root), n, why, path))
            missing += 1
    # The docs cite well over a hundred paths: far fewer means the scan broke.
    if seen[0] < 100:
        print("test_docs_paths: only %d paths found in %d documents: the scan is broken"
              % (seen[0], len(docs)))
        return 1
    if missing:
        print("test_docs_paths: %d cited path(s) missing" % missing)
        return 1
    print("test_docs_paths: the %d paths cited in %d documents exist" % (seen[0], len(docs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
