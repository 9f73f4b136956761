#!/usr/bin/env bash
# IPS-GRPO with verl on one node of GPUs: HypoSpace causal graphs, a 1.5B instruct model, 16 responses per prompt.
#
# Needs a GPU machine with verl 0.6.1 and vLLM (verl's own install instructions), plus this package:
#     pip install "verl[vllm]==0.6.1" "transformers<5" -e .
# (0.6.x is the last verl whose trainer builds reward managers from verl.workers.reward_manager, where the
# `batch` manager and the `ips_batch` one registered by ips_agents.integrations.verl live; `make verl-venv`
# builds the CPU interpreter the tests use.)
#
# What makes it IPS (everything else is a stock verl GRPO run):
#   reward_model.reward_manager=ips_batch      verl's batch manager + each response's uid (the GRPO group)
#   custom_reward_function.path/name           ips_agents/integrations/verl.py : compute_score, which divides
#                                              the env's reward by the outcome's frequency within its uid group
#   +custom_reward_function.reward_kwargs.*    alpha (1 = IPS, 0 = plain GRPO) and the probability floor eps
#   algorithm.adv_estimator=grpo               verl's group normalisation on top (the paper's Eq. 9)
#   actor.loss_agg_mode=seq-mean-token-sum-norm  Dr. GRPO's constant normaliser: no per-length weighting, which
#                                              would favour short answers (see ips_agents/integrations/trl.py)
# Sizes: NGPUS GPUs of >= 40 GB; train_batch_size prompts x rollout.n responses per step.
set -euo pipefail

NGPUS=${NGPUS:-8}
MODEL=${MODEL:-Qwen/Qwen2.5-1.5B-Instruct}
DATA=${DATA:-$HOME/data/ips_hypospace_causal4}
ALPHA=${ALPHA:-1.0}   # 0.0 runs the GRPO baseline with the same reward function

python -m ips_agents.integrations.verl --env IPS/CausalDAG-v0 --env-kwargs '{"n_nodes": 4}' --out "$DATA"
REWARD_FILE=$(python -c "import ips_agents.integrations.verl as m; print(m.__file__)")

python -m verl.trainer.main_ppo \
    algorithm.adv_estimator=grpo \
    algorithm.norm_adv_by_std_in_grpo=True \
    algorithm.use_kl_in_reward=False \
    data.train_files="$DATA/train.parquet" \
    data.val_files="$DATA/test.parquet" \
    data.train_batch_size=64 \
    data.max_prompt_length=1024 \
    data.max_response_length=512 \
    data.filter_overlong_prompts=True \
    actor_rollout_ref.model.path="$MODEL" \
    actor_rollout_ref.model.use_remove_padding=True \
    actor_rollout_ref.actor.optim.lr=1e-6 \
    actor_rollout_ref.actor.ppo_mini_batch_size=32 \
    actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=8 \
    actor_rollout_ref.actor.use_kl_loss=False \
    actor_rollout_ref.actor.entropy_coeff=0 \
    actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-sum-norm \
    actor_rollout_ref.actor.fsdp_config.param_offload=False \
    actor_rollout_ref.rollout.name=vllm \
    actor_rollout_ref.rollout.n=16 \
    actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
    actor_rollout_ref.rollout.gpu_memory_utilization=0.6 \
    actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=16 \
    actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=16 \
    reward_model.reward_manager=ips_batch \
    custom_reward_function.path="$REWARD_FILE" \
    custom_reward_function.name=compute_score \
    +custom_reward_function.reward_kwargs.alpha="$ALPHA" \
    +custom_reward_function.reward_kwargs.eps=0.1 \
    trainer.n_gpus_per_node="$NGPUS" \
    trainer.nnodes=1 \
    trainer.logger='["console"]' \
    trainer.project_name=ips_hypospace \
    trainer.experiment_name="causal4_alpha${ALPHA}" \
    trainer.total_epochs=15 \
    trainer.test_freq=5 \
    trainer.save_freq=-1 \
    "$@"
