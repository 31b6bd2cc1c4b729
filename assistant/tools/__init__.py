"""What Parley can do besides talk: the time, timers and alarms, exact sums and conversions, a small memory,
opening things, and the tools of the user's MCP servers. Each built-in tool is a small module with a schema and
a handler, testable without a model; `toolbox.py` offers them all to the chat model and the sentence templates."""
