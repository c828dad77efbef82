"""The command line: parse options, call one service, render. Nothing else lives here."""
