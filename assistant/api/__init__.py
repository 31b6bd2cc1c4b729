"""Parley for other programs: its warm engines behind a local HTTP API in the OpenAI shape (`openai_routes.py`) and
a Wyoming server for Home Assistant (`wyoming_service.py`); `engine_jobs.py` is the one way both reach the engines."""
