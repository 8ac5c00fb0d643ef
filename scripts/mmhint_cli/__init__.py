"""The mmhint command-line front end (scripts/mmhint).  See docs/CLI.md."""
