"""The emulator's Flux engine: lexer, parser, AST, interpreter, columnar tables and builtins.

Layout: ``lexer`` -> ``parser`` (builds ``ast`` nodes) -> ``interpreter`` (evaluates, calls builtins from
``registry``) -> streams of ``table.Table`` -> ``csvout`` (the contract's CSV). Builtins live in
``builtins_*`` modules and register themselves with ``@builtin``; :func:`load_builtins` imports them.
"""
