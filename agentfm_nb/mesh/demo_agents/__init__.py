"""Command agents of the demo mesh, run as ``python -u -m agentfm_nb.mesh.demo_agents.<name>``."""
