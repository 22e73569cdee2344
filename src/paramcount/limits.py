"""Every cap on user input, in one place. Each is checked before the work it guards."""

from __future__ import annotations

MAX_EXPRESSION_CHARS = 10_000
"""Longest expression text accepted."""

MAX_DEPTH = 32
"""Deepest bracket nesting / call nesting accepted in an expression."""

MAX_NODES = 5_000
"""Most syntax nodes walked in one expression."""

MAX_SYNTAX_DEPTH = 4 * MAX_DEPTH
"""Deepest syntax tree accepted. A bracket level adds one to three tree levels (a call, a starred list, a
comprehension); operator chains such as ``1 + 1 + …`` add one per operator without any bracket."""

MAX_INT_BITS = 63
"""Integers in expressions must satisfy abs(value) < 2**63 (what a torch size can hold)."""

MAX_INT_DIGITS = len(str(2**MAX_INT_BITS - 1))
"""Decimal digits of the largest such integer (19): a longer literal is refused before it is converted."""

MAX_REPEAT = 1_024
"""Most modules one list repetition (`[...] * n` or `for i in range(n)`) may build."""

MAX_MODULES = 20_000
"""Most modules one expression may build in total."""

MAX_STEPS = 100_000
"""Most evaluation steps (nodes evaluated plus list items produced) one expression may take: a list
comprehension re-evaluates its element up to ``MAX_REPEAT`` times."""

MAX_ITEMS = MAX_MODULES
"""Most items one list or tuple value may hold, counting the items of nested lists in full (a list repeated
inside a repeated list would otherwise stand for ``MAX_REPEAT ** depth`` items)."""

MAX_BATCH_LINES = 100_000
"""Most lines read by `--batch`."""

MAX_CONFIG_BYTES = 4_000_000
"""Largest config.json read (published configs are a few kB; id2label maps make some ~100 kB)."""

MAX_CONFIG_DEPTH = 16
"""Deepest nesting of objects/arrays accepted in a config."""

MAX_LAYERS = 100_000
"""Most repeated blocks (num_hidden_layers, num_experts …) a model may declare."""
