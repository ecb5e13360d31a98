"""The command line's modes, the last layer: each module's run(settings) carries out one --mode of
main.py from a modes.settings.Settings value."""
