"""One module per stage, each registering its commands on `supportloop.app.app`."""
