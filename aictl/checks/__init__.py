"""The checks room: preflight facts about nodes.

Each fact is a command (`commands.py`), a pure parser (`parse_*.py`, proven on the real
outputs in ../shared/samples) and a rule (`rules.py`). `preflight.py` runs every command on a
node in one SSH session and turns the outputs into a node x check matrix. Parsers never raise
on unexpected text: what they could not read is returned under `unparsed`.
"""
