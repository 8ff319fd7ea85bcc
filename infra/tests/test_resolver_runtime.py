"""The resolvers' code stays within what the APPSYNC_JS runtime runs (AWS AppSync, "Supported
runtime features"): Node.js runs more than AppSync does, so the Node tests alone would not catch
a `while` or a recursive call that AppSync refuses at deploy time. A textual check, on the code
less its comments and string literals."""

from __future__ import annotations

import re

import pytest

from trainers_infra.graphql_api import RESOLVER_JS, SUBSCRIPTIONS_JS

# Statements and operators APPSYNC_JS does not support; `for` only as for-of and for-in.
UNSUPPORTED = {
    "while / do-while": r"\bwhile\b|\bdo\s*\{",
    "try / catch / finally": r"\btry\b|\bcatch\b|\bfinally\b",
    "throw": r"\bthrow\b",
    "continue": r"\bcontinue\b",
    "labeled statement": r"^\s*[A-Za-z_$][\w$]*:\s*(for|while|do)\b",
    "++ / -- / ~": r"\+\+|--|~",
    # (a for-in header is the one `in` allowed)
    "the in operator": r"^(?!\s*for\s*\().*[\w$)\]']\s+in\s",
    "C-style for": r"\bfor\s*\((?!\s*(const|let|var)\s+[\w$]+\s+(of|in)\b)",
    "class": r"\bclass\b",
    "async / await / generators": r"\basync\b|\bawait\b|function\s*\*|\byield\b",
}


def code_of(path) -> str:
    """The code less comments and the contents of string and template literals."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`]*`", "''", text)


def functions(code: str) -> dict[str, str]:
    """Each top-level function declaration's name and body (to the next `}` at column 0)."""
    return dict(re.findall(r"^(?:export )?function (\w+)\(.*?\n(.*?)^\}", code, re.M | re.S))


@pytest.mark.parametrize("path", [RESOLVER_JS, SUBSCRIPTIONS_JS], ids=lambda p: p.name)
def test_resolver_code_uses_only_what_appsync_js_runs(path):
    code = code_of(path)
    found = {
        what: [line for line in code.splitlines() if re.search(pattern, line)]
        for what, pattern in UNSUPPORTED.items()
    }
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("path", [RESOLVER_JS, SUBSCRIPTIONS_JS], ids=lambda p: p.name)
def test_resolver_code_has_no_recursion(path):
    bodies = functions(code_of(path))
    assert bodies, "the checks read the functions"
    for name, body in bodies.items():
        assert not re.search(rf"\b{name}\(", body), f"{name} calls itself"


def test_the_check_finds_what_it_looks_for(tmp_path):
    bad = tmp_path / "bad.js"
    bad.write_text(
        "// while (x) in a comment is fine\n"
        "export function f(a) {\n"
        "  let i = 0;\n"
        "  for (let j = 0; j < 3; j += 1) { i += j; }\n"
        "  while (i > 0) { i -= 1; }\n"
        "  if ('k' in a) { return f(a.k); }\n"
        "  return i;\n"
        "}\n"
    )
    code = code_of(bad)
    hits = {w for w, p in UNSUPPORTED.items() if any(re.search(p, ln) for ln in code.splitlines())}
    assert hits == {"C-style for", "while / do-while", "the in operator"}
    assert re.search(r"\bf\(", functions(code)["f"])
