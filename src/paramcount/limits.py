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


MAX_PICKLE_BYTES = 64_000_000
"""Largest pickle read from a PyTorch checkpoint (``data.pkl``; the legacy format's pickles together). A
state dict's pickle takes ~150 bytes per tensor: 64 MB is ~400,000 tensors."""

MAX_PICKLE_OPCODES = 4_000_000
"""Most pickle opcodes interpreted in one checkpoint (a tensor record takes ~30; a few seconds of work)."""

MAX_PICKLE_STACK = 1_000_000
"""Most values on a pickle's stack at once, counting those below its marks."""

MAX_PICKLE_DEPTH = 100
"""Deepest nesting of pickle marks, and of containers in the saved object (torch writes 3 and ~6)."""

MAX_PICKLE_MEMO = 1_000_000
"""Most entries in a pickle's memo."""

MAX_PICKLE_STRING_BYTES = 4_000_000
"""Longest string or bytes value in a pickle."""

MAX_PICKLE_CONTAINER_ITEMS = 1_000_000
"""Most items in one list, tuple or dict built from a pickle."""

MAX_PICKLE_VALUES = 4_000_000
"""Most values visited while finding the tensors in a saved object; a value shared through the pickle's memo
counts once for each path that reaches it, so shared nesting cannot multiply the work."""

MAX_ZIP_ENTRIES = 200_000
"""Most entries in a PyTorch zip checkpoint (one per storage, plus five)."""

MAX_ZIP_DIRECTORY_BYTES = 16_000_000
"""Largest zip central directory read (~90 bytes per entry)."""

MAX_ZIP_COMPRESSION_RATIO = 1_000
"""Largest declared uncompressed/compressed size ratio of a deflated ``data.pkl`` (zip bombs)."""

# Checkpoint files (sources/safetensors.py, gguf.py, onnx.py and what they share in sources/_bounded.py).

MAX_HEADER_BYTES = 100_000_000
"""Largest header read from one checkpoint file: the safetensors reference reader's own cap
(``MAX_HEADER_SIZE``), and ample for a GGUF's metadata (a 256k-token vocabulary with its merges is ~20 MB)."""

MAX_UPLOAD_BYTES = 64 * 2**20
"""Largest upload of a checkpoint's first bytes to the web app (``POST /api/file``): 64 MiB holds any
safetensors header seen published and a GGUF's metadata with a 256k-token vocabulary (~20 MB); the weights
are never sent."""

MAX_TENSORS = 262_144
"""Most tensors one checkpoint may declare (the largest published models have tens of thousands: DeepSeek-V3,
with its 256 experts per layer stored separately, about 92,000)."""

MAX_NAME_PARTS = 64
"""Most dotted parts in one tensor name (the depth of the module tree built from it)."""

MAX_TENSOR_DIMS = 64
"""Most dimensions of one tensor (torch allows 64; ggml 4)."""

MAX_TENSOR_ELEMENTS = 2**62
"""Most elements one tensor may have; shape products are checked against it as they are multiplied."""

MAX_METADATA_ENTRIES = 65_536
"""Most metadata entries (GGUF key/value pairs, safetensors ``__metadata__`` items) in one file."""

MAX_NAME_BYTES = 65_536
"""Longest tensor name, metadata key or string value read from a checkpoint header."""

MAX_ARRAY_ITEMS = 2**20
"""Longest GGUF metadata array (vocabularies have up to ~262k tokens, merge lists a few hundred thousand)."""

MAX_HEADER_ITEMS = 8 * MAX_ARRAY_ITEMS
"""Most values (array items included) read from one GGUF header, or fields from one ONNX file."""

MAX_NESTING = 8
"""Deepest nesting of GGUF arrays, or of ONNX graphs inside node attributes."""

MAX_SHARDS = 4_096
"""Most shard files one index may name (the largest published checkpoints have a few hundred)."""

MAX_FOLDER_ENTRIES = 100_000
"""Most directory entries looked at when a folder is given."""

MAX_READ_SECONDS = 30
"""Longest time one checkpoint header may take to read; the byte and count caps make this unreachable for
honest files, so it only stops pathological ones."""
