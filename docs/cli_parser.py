"""The parser of ``focalboost``, for sphinx-argparse (docs/cli.md), with its texts escaped for
reStructuredText: the description of ``compare`` writes ``|mean predicted - observed rate|``, which
reStructuredText would read as a substitution reference."""

import argparse

from focalboost.compare.cli import build_parser


def _escape(text):
    return text.replace("|", "\\|") if isinstance(text, str) else text


def _escaped(parser):
    parser.description = _escape(parser.description)
    parser.epilog = _escape(parser.epilog)
    for action in parser._actions:
        action.help = _escape(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                choice.help = _escape(choice.help)
            for sub in action.choices.values():
                _escaped(sub)
    return parser


def parser():
    return _escaped(build_parser())
