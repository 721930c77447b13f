"""The GPUs `cigen mem` advises on: sizes given on the command line, or the config's pools."""

from __future__ import annotations

from pathlib import Path

from generator.errors import UserError
from generator.memory.advisor import GIB_MIB, Card


def resolve_cards(
    root: Path,
    config_path: Path | None,
    gpu_mem_gib: tuple[float, ...],
    pools: tuple[str, ...],
    gpu_free_mib: float | None,
    tp: int,
) -> tuple[list[Card], list[str]]:
    """--gpu-mem-gib values, then --pool names read from the config, in the order given; and warnings."""
    if not gpu_mem_gib and not pools:
        raise UserError("", 0, "no-gpu", "give --gpu-mem-gib N or --pool NAME (either may repeat)")
    if gpu_free_mib is not None and len(gpu_mem_gib) + len(pools) != 1:
        raise UserError(
            "--gpu-free-mib",
            0,
            "free-needs-one-gpu",
            "--gpu-free-mib describes one GPU; give one --gpu-mem-gib or --pool",
        )
    cards = [Card(f"{gib:g} GiB", gib * GIB_MIB, gpu_free_mib) for gib in gpu_mem_gib]
    warnings = []
    if pools:  # the config and its checks, only when a pool is named
        from generator.config import load_config
        from generator.memory.lint import tp_over_pool

        config = load_config(config_path, root)
        for name in pools:
            pool = config.pools.get(name)
            if pool is None:
                raise UserError(
                    "--pool",
                    0,
                    "unknown-pool",
                    f"no pool '{name}' in {config.source} (known: {', '.join(gpu_pool_names(config))})",
                )
            if pool.gpu_mem_gib is None:
                raise UserError(config.source, pool.line, "mem-unknown-gpu", f"pool '{name}' declares no gpu_mem_gib")
            cards.append(
                Card(f"{name} ({pool.gpu_model})" if pool.gpu_model else name, pool.gpu_mem_gib * GIB_MIB, gpu_free_mib)
            )
            warning = tp_over_pool(config, name, tp)
            if warning is not None:
                warnings.append(warning.format())
    return cards, warnings


def gpu_pool_names(config) -> list[str]:
    """The pools `--pool` may name: those with GPUs (not build pools)."""
    return sorted(name for name, pool in config.pools.items() if pool.gpus)
