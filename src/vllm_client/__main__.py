"""``python -m vllm_client``: the same CLI as the ``vllm-client`` script, for environments
where the script is not on PATH (or to pick the interpreter explicitly)."""

from vllm_client.cli import main

if __name__ == "__main__":
    main()
