"""One module per command: each has ``add_parser(sub)`` and ``run(args, paths)``.

COMMANDS is the order ``--help`` lists them in; ``gui`` (no command word)
runs when none is given.
"""

from __future__ import annotations

from ui.cli.commands import (
    analyze,
    anonymize,
    audit,
    config,
    deid_key,
    demo,
    echo,
    evaluate,
    gui,
    import_,
    login,
    models,
    outcome,
    phantom,
    priority,
    read,
    reidentify,
    screenshot,
    studies,
    sync,
    train,
)

COMMANDS = (import_, studies, priority, read, outcome, audit, phantom, analyze, evaluate, train,
            screenshot, anonymize, deid_key, reidentify, sync, login, config, models, echo, demo)

__all__ = ["COMMANDS", "gui"]
