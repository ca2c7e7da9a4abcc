"""One module per `dragopt` command (or group); app/cli.py only wires them."""
