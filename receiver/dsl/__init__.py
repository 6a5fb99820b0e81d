"""The policy condition language: grammar loading, parser, AST, types, built-ins."""
