"""The policy condition language: grammar loading, parser, AST, the built-in functions
(one table, ``functions.FUNCTIONS``), analysis helpers, and the meaning of its values:
values and their operations, durations and times, the evaluation context that compiled
closures read, field paths, event names.

Below the stages: the checker types expressions with it, the compiler turns them into
closures that call its value operations, and the runtime evaluates those closures.
"""
