"""Constructs that group a stack's resources without renaming them in its template."""

from __future__ import annotations

import hashlib
import re

from aws_cdk import CfnElement, Stack
from constructs import Construct


class Group(Construct):
    """A construct that only groups: the resources in it keep the logical IDs they would have
    without it, as if its children were the stack's own (TrainersApiStack leaves groups out of
    the paths it makes logical IDs from). The stack was one flat list of resources once, and a
    new logical ID is a new resource to CloudFormation: an update would replace the table, the
    API (a new URL and key) and the log groups, and fail on a second resolver for one field or a
    second log group of one name. So a group's children carry the ids the resources had then."""


def logical_id_without_groups(stack: Stack, element: CfnElement) -> str | None:
    """The logical ID of `element` made from its path in `stack` less the groups in it, or None
    when there is no group in its path (CDK's own ID is then the same)."""
    inner = element.node.scopes[len(stack.node.scopes) :]
    if not any(isinstance(scope, Group) for scope in inner):
        return None
    return make_unique_id([s.node.id for s in inner if not isinstance(s, Group)])


def make_unique_id(components: list[str]) -> str:
    """CDK's logical ID of a path (makeUniqueId, aws-cdk-lib core/lib/private/uniqueid.ts): the
    components less `Default`, readable (less `Resource` and repeats) and an MD5 hash of the
    path; one component alone is its own ID. Every CDK app's IDs depend on it: it does not
    change."""
    components = [c for c in components if c != "Default"]
    if not components:
        raise ValueError("no logical ID for an empty path")
    if len(components) == 1 and len(alphanumeric(components[0])) <= 255:
        return alphanumeric(components[0])
    digest = hashlib.md5("/".join(components).encode(), usedforsecurity=False).hexdigest()
    human: list[str] = []
    for c in components:
        if not human or not human[-1].endswith(c):
            human.append(c)
    readable = "".join(alphanumeric(c) for c in human if c != "Resource")
    return readable[:240] + digest[:8].upper()


def alphanumeric(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", s)
