"""ips_agents: IPS-GRPO and baselines on the Stable-Baselines3 interface."""
