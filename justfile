# Developer shortcuts; the README's quick start needs none of them.
venv := ".venv/bin"

setup:
    python3 -m venv .venv && {{venv}}/pip install -e '.[test]'

run *ARGS:
    {{venv}}/pneumo tui {{ARGS}}

test *ARGS:
    {{venv}}/pytest -q {{ARGS}}

bench *ARGS:
    {{venv}}/pneumo bench {{ARGS}}

lint:
    {{venv}}/ruff check training pneumo_tui tests
