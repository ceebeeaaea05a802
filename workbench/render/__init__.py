"""Pure-rich renderables of what the engine computed, one per view, shared by the CLI and the
TUI (the widgets wrap them; the commands print them). Imports rich only: no Textual, no torch.
"""
