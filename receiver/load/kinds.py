"""Which YAML files of a policy directory are policies, and what the others look like.

Stage 1 (load), before a file is read as a policy. A policy directory may hold, beside
the policies, test files (``*.test.yaml``, run by ``receiver test``) and users files
(``*.users.yaml``, ``*.users.yml`` or ``*.users.json``: the user directory of
``--users`` or of a test file's ``users:``); the loader skips both by name. A YAML file
that is none of these and has no ``policy:`` line is named for what it looks like (a
users map, a test file), with the name to give it, instead of being reported as a policy
with every one of its keys an unknown field.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import PurePath

import yaml

from receiver.text.yamlnodes import NodeReader, scalar_value

__all__ = [
    "POLICY_SUFFIXES",
    "TEST_SUFFIXES",
    "USERS_SUFFIXES",
    "is_policy_file_name",
    "report_not_a_policy",
]

POLICY_SUFFIXES = (".yaml", ".yml")
TEST_SUFFIXES = (".test.yaml", ".test.yml")
USERS_SUFFIXES = (".users.yaml", ".users.yml", ".users.json")


def is_policy_file_name(name: str) -> bool:
    """Whether the loader reads a file of this name found in a policy directory:
    ``*.yaml`` and ``*.yml``, except test files and users files."""
    return name.endswith(POLICY_SUFFIXES) and not name.endswith(TEST_SUFFIXES + USERS_SUFFIXES)


def _renamed(path: str, infix: str) -> str:
    """``users.yaml`` -> ``users.users.yaml`` (``infix`` is ``users`` or ``test``)."""
    name = PurePath(path).name
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{infix}.{suffix}" if dot and stem else f"{name}.{infix}.yaml"


def report_not_a_policy(
    reader: NodeReader, root: yaml.Node, policy_fields: Collection[str]
) -> bool:
    """Report a file that is not a policy at all (``not-a-policy``), and say so.

    A mapping with one of ``policy_fields`` is read as a policy, however broken, and its
    problems are reported field by field. A mapping without any is a users map (every
    value a record), a test file (it has ``cases``), or something else. A file named like
    a users file is one, given by name to a policy command. Anything else (a file that is
    not a mapping) is left to the policy reader.
    """
    path = reader.source.path
    if PurePath(path).name.endswith(USERS_SUFFIXES):
        reader.error(
            "not-a-policy",
            "this is a users file (named *.users.yaml), not a policy: give it to "
            "'receiver serve' or 'receiver eval' with --users FILE, or to a test file as "
            "'users: FILE', and give the policy folder as the policy path",
            root,
        )
        return True
    if not isinstance(root, yaml.MappingNode):
        return False
    keys = [
        (scalar_value(key) if isinstance(key, yaml.ScalarNode) else None, key, value)
        for key, value in root.value
    ]
    if any(isinstance(name, str) and name in policy_fields for name, _, _ in keys):
        return False
    first = keys[0][1] if keys else root
    names = {name for name, _, _ in keys}
    if "cases" in names:
        reader.error(
            "not-a-policy",
            "this file is not a policy (it has no 'policy: NAME' line); its 'cases' make it "
            f"a test file: name it {_renamed(path, 'test')} so that 'receiver test' runs it "
            "and policy commands skip it",
            first,
        )
    elif keys and all(isinstance(value, yaml.MappingNode) for _, _, value in keys):
        reader.error(
            "not-a-policy",
            "this file is not a policy (it has no 'policy: NAME' line); it looks like a "
            "users file (user ids, each with a record): name it "
            f"{_renamed(path, 'users')}, which policy commands skip, or move it out of the "
            "policy folder",
            first,
        )
    else:
        reader.error(
            "not-a-policy",
            "this file is not a policy: a policy file starts with a 'policy: NAME' line, "
            "and this one has none of the policy fields (policy, rules, lists, macros, "
            "counters, ...); if it is a users file, name it "
            f"{_renamed(path, 'users')}; anything else, move it out of the policy folder",
            first,
        )
    return True
