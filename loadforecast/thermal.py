"""Top-oil and hot-spot temperatures of oil-immersed transformers (IEC 60076-7 difference equations).

Vectorised over transformers: arrays are (transformers, steps). The equations and their
discretisation are those of the `transformer-thermal-model` package (Alliander, 0.6.0,
`Model` with a `DistributionTransformer` and `InitialLoad`), so the two agree to rounding:

    Δθo,end(K) = (Δθor + surcharge) · ((1 + R·K²) / (1 + R))^x
    θo[i]      = θo[i-1] + (θa[i] + Δθo,end(K[i]) − θo[i-1]) · (1 − exp(−Δt / (k11·τo)))
    Δθh,st(K)  = H · gr · K^y
    Δθh1[i]    = k21·Δθh,st(K[i]) + (Δθh1[i-1] − k21·Δθh,st(K[i])) · exp(−Δt / (k22·τw))
    Δθh2[i]    = (k21−1)·Δθh,st(K[i]) + (Δθh2[i-1] − (k21−1)·Δθh,st(K[i])) · exp(−Δt·k22 / τo)
    θh[i]      = θo[i] + Δθh1[i] − Δθh2[i]

K is the load factor S/S_N, R the ratio of load losses to no-load losses, θa the ambient.
The value at step i is the temperature at the end of an interval of length Δt during which
the load K[i] applied; step 0 is the steady state of K[0] (the package's `InitialLoad`).
Because the update is the exact solution of the first-order equations for a load that is
constant over the step, hourly steps give the same end-of-hour temperatures as any finer
step with the same hourly load.

The time loop runs over steps (the recurrence is sequential); each step is one vector
operation over all transformers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["ThermalParameters", "ThermalResult", "relative_ageing_rate", "simulate"]


@dataclass(frozen=True)
class ThermalParameters:
    """IEC 60076-7 ONAN distribution-transformer constants (defaults of the package's DistributionTransformer)."""

    oil_exponent_x: float = 0.8
    winding_exponent_y: float = 1.6
    k11: float = 1.0
    k21: float = 1.0
    k22: float = 2.0
    oil_time_constant_min: float = 180.0
    winding_time_constant_min: float = 4.0
    top_oil_rise_k: float = 60.0
    winding_oil_gradient_k: float = 23.0
    hot_spot_factor: float = 1.2
    ambient_surcharge_k: float = 10.0


@dataclass(frozen=True)
class ThermalResult:
    """Temperatures in °C at the end of each step, shape (transformers, steps)."""

    top_oil_c: NDArray[np.float64]
    hot_spot_c: NDArray[np.float64]


def _top_oil_end_rise(load_factor: NDArray[np.float64], loss_ratio: NDArray[np.float64], p: ThermalParameters):
    loss_fraction = (1.0 + loss_ratio * load_factor**2) / (1.0 + loss_ratio)
    return (p.top_oil_rise_k + p.ambient_surcharge_k) * loss_fraction**p.oil_exponent_x


def simulate(
    load_factor: NDArray[np.float64],
    ambient_c: NDArray[np.float64],
    loss_ratio: NDArray[np.float64] | float,
    params: ThermalParameters,
    step_minutes: float = 60.0,
) -> ThermalResult:
    """Run the difference equations for every transformer at once.

    load_factor: K = S/S_N, shape (transformers, steps), non-negative.
    ambient_c: θa per step, shape (steps,) or (transformers, steps).
    loss_ratio: R = Pk/P0 per transformer, shape (transformers,) or a scalar.
    """
    load_factor = np.asarray(load_factor, dtype=np.float64)
    if load_factor.ndim != 2:
        raise ValueError("load_factor must have shape (transformers, steps)")
    transformers, steps = load_factor.shape
    ambient = np.broadcast_to(np.asarray(ambient_c, dtype=np.float64), (transformers, steps))
    ratio = np.broadcast_to(np.asarray(loss_ratio, dtype=np.float64), (transformers,))[:, None]

    # Everything that does not depend on the previous step is computed for all steps at once.
    oil_target = ambient + _top_oil_end_rise(load_factor, ratio, params)
    static_rise = params.hot_spot_factor * params.winding_oil_gradient_k * load_factor**params.winding_exponent_y
    winding_target = params.k21 * static_rise
    oil_flow_target = (params.k21 - 1.0) * static_rise
    f1 = 1.0 - np.exp(-step_minutes / (params.k11 * params.oil_time_constant_min))
    f2_winding = np.exp(-step_minutes / (params.k22 * params.winding_time_constant_min))
    f2_oil = np.exp(-step_minutes * params.k22 / params.oil_time_constant_min)

    top_oil = np.empty((transformers, steps))
    hot_spot = np.empty((transformers, steps))
    top_oil[:, 0] = oil_target[:, 0]
    rise_winding = winding_target[:, 0].copy()
    rise_oil = oil_flow_target[:, 0].copy()
    hot_spot[:, 0] = top_oil[:, 0] + rise_winding - rise_oil
    for i in range(1, steps):
        top_oil[:, i] = top_oil[:, i - 1] + (oil_target[:, i] - top_oil[:, i - 1]) * f1
        rise_winding = winding_target[:, i] + (rise_winding - winding_target[:, i]) * f2_winding
        rise_oil = oil_flow_target[:, i] + (rise_oil - oil_flow_target[:, i]) * f2_oil
        hot_spot[:, i] = top_oil[:, i] + rise_winding - rise_oil
    return ThermalResult(top_oil_c=top_oil, hot_spot_c=hot_spot)


def relative_ageing_rate(hot_spot_c: NDArray[np.float64]) -> NDArray[np.float64]:
    """Relative ageing rate of normal (non-thermally-upgraded) paper, V = 2^((θh − 98)/6)."""
    return np.power(2.0, (np.asarray(hot_spot_c, dtype=np.float64) - 98.0) / 6.0)
