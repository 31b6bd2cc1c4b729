"""The servers a user points Parley at (a chat server, a speech-to-text server): their addresses, API keys and HTTP.
Nothing here talks to any computer the user did not name."""
