"""torch.optim in an eager run without importing torch._dynamo: 4 s of CPU at every `cnn train`.

torch.optim wraps Optimizer.add_param_group, zero_grad, state_dict and load_state_dict in
torch._disable_dynamo, and every step in a graph break; each imports torch._dynamo on first use. On a
2-core AMD EPYC (AVX2) that import costs 4.0 s of CPU, more than `import torch` itself (3.7 s), in
whole-process timings side by side (median of 5). A run without --compile compiles nothing, so the
wrappers buy it nothing but that import: `skip_dynamo()` puts the plain methods in torch's own cache of
their dynamo-disabled versions, and `step()` runs an optimizer's step under no_grad as the wrapper does.
tests/core/runtime/test_eager.py checks the weights are the same bits and torch._dynamo stays out.
"""

from __future__ import annotations

import inspect

import torch

# the Optimizer methods torch wraps in torch._disable_dynamo (torch 2.x)
_WRAPPED = ("add_param_group", "zero_grad", "state_dict", "load_state_dict")


def skip_dynamo() -> None:
    """For runs that compile nothing: Optimizer methods run as written, without importing torch._dynamo."""
    for name in _WRAPPED:
        plain = getattr(getattr(torch.optim.Optimizer, name, None), "__wrapped__", None)
        if plain is not None and not hasattr(plain, "__dynamo_disable"):
            # the attribute torch._disable_dynamo caches the disabled function in; outside torch.compile
            # the disabled function behaves as the plain one
            setattr(plain, "__dynamo_disable", plain)


def step(optimizer: torch.optim.Optimizer) -> None:
    """optimizer.step() without torch's graph-break wrapper (and its torch._dynamo import), under no_grad."""
    plain = inspect.unwrap(type(optimizer).step)
    with torch.no_grad():
        plain(optimizer)
