"""``python -m c2b`` is the ``c2b`` CLI."""

from c2b.cli import app

if __name__ == "__main__":
    app()
