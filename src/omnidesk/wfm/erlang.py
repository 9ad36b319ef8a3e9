"""Erlang C (M/M/N) and Erlang A (M/M/N+M: exponential patience) staffing figures, pure functions.

Units are seconds and contacts per second throughout. Every figure states its denominator, because the published
tools differ here (pyworkforce's ASA counts abandoners' waits over offered contacts):

* ``service_level`` — contacts answered within the threshold ÷ **offered** contacts (abandoners stay in the
  denominator, which is what the supervisor's 80/20 means when people hang up);
* ``asa`` — mean wait of **answered** contacts (zero waits included);
* ``p_wait`` — probability that an arriving contact finds every agent busy (PASTA);
* ``p_abandon`` — abandoned ÷ offered.

Numerical stability: Erlang B by its recursion (every step stays in [0, 1]), Erlang A's birth–death chain in log
space normalised by a log-sum-exp, so 1,000+ agents and loads of thousands of erlangs neither overflow nor lose
precision. The waiting-time distribution of Erlang A is the transient law of a tagged contact's position in the
queue (a bidiagonal Markov chain), evaluated by uniformization.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, logsumexp


@dataclass(frozen=True, slots=True)
class Staffing:
    """Expected performance of ``agents`` servers for one interval's traffic (see the module's denominators)."""

    agents: int
    offered_erlangs: float
    service_level: float
    asa: float
    p_wait: float
    p_abandon: float
    occupancy: float
    model: str  # "erlang_c" or "erlang_a"


def erlang_b(servers: int, erlangs: float) -> float:
    """Blocking probability of M/M/N/N by the stable recursion B(n) = A·B(n-1) / (n + A·B(n-1))."""
    b = 1.0
    for n in range(1, servers + 1):
        b = erlangs * b / (n + erlangs * b)
    return b


def erlang_c(agents: int, erlangs: float) -> float:
    """Probability of waiting in M/M/N (1 when the load reaches the agents: the queue grows without bound)."""
    if agents <= erlangs:
        return 1.0
    b = erlang_b(agents, erlangs)
    return agents * b / (agents - erlangs * (1.0 - b))


def erlang_c_figures(agents: int, rate: float, aht: float, within: float) -> Staffing:
    """Erlang C: no one abandons. Unstable staffing (load ≥ agents) reports service level 0 and an infinite ASA."""
    a = rate * aht
    if agents <= a:
        return Staffing(agents, a, 0.0, math.inf, 1.0, 0.0, 1.0, "erlang_c")
    c = erlang_c(agents, a)
    sl = 1.0 - c * math.exp(-(agents - a) * within / aht)
    asa = c * aht / (agents - a)
    return Staffing(agents, a, sl, asa, c, 0.0, a / agents, "erlang_c")


def _erlang_a_chain(agents: int, rate: float, aht: float, patience: float) -> tuple[np.ndarray, np.ndarray]:
    """Stationary probabilities of M/M/N+M: (below, queue) with below[n] = P(n busy, nobody waiting) for n < N and
    queue[k] = P(N busy and k waiting). Computed as logs relative to state N, normalised once."""
    mu, theta = 1.0 / aht, 1.0 / patience
    a = rate / mu
    if agents > 0:
        m = np.arange(1, agents + 1, dtype=float)
        # log π_{n-1} − log π_n = log(n / A): accumulate downwards from N.
        steps = np.log(m / a)[::-1]  # n = N .. 1
        log_below = np.cumsum(steps)[::-1]  # log π_{n}/π_N for n = 0 .. N-1
    else:
        log_below = np.empty(0)
    # Waiting states until the tail is negligible: past k* the ratio λ/(Nμ+kθ) < 1 and falls; 40 standard
    # deviations of the queue's spread beyond that leaves < 1e-300.
    k_star = max(0.0, (rate - agents * mu) / theta)
    k_max = int(k_star + 40.0 * math.sqrt(rate / theta + 1.0) + 50)
    k = np.arange(1, k_max + 1, dtype=float)
    log_queue = np.concatenate(([0.0], np.cumsum(np.log(rate / (agents * mu + k * theta)))))
    total = logsumexp(np.concatenate((log_below, log_queue)))
    return np.exp(log_below - total), np.exp(log_queue - total)


def erlang_a_figures(agents: int, rate: float, aht: float, patience: float, within: float) -> Staffing:
    """Erlang A (Palm's M/M/N+M), exact birth–death solution; converges to Erlang C as patience → ∞."""
    mu, theta = 1.0 / aht, 1.0 / patience
    below, queue = _erlang_a_chain(agents, rate, aht, patience)
    p_immediate = float(below.sum())
    p_wait = 1.0 - p_immediate
    # A contact arriving to k waiting moves up at rate r_j = Nμ + jθ (j ahead) and abandons at rate θ; along the
    # path to service the sojourns are independent Exp(r_j + θ), so success probability and time separate.
    j = np.arange(queue.size, dtype=float)
    r = agents * mu + j * theta
    success = np.cumprod(r / (r + theta))  # a(k): served having started with k ahead
    mean_time = np.cumsum(1.0 / (r + theta))  # E[time | success path] from k ahead
    served_after_wait = float((queue * success).sum())
    wait_of_served = float((queue * success * mean_time).sum())
    p_abandon = max(0.0, p_wait - served_after_wait)
    answered = p_immediate + served_after_wait
    asa = wait_of_served / answered if answered > 0 else math.inf
    sl = p_immediate + _served_within(queue, r, theta, within)
    occupancy = min(1.0, rate * (1.0 - p_abandon) * aht / agents) if agents else 1.0
    return Staffing(agents, rate * aht, min(1.0, sl), asa, p_wait, p_abandon, occupancy, "erlang_a")


def _served_within(queue: np.ndarray, r: np.ndarray, theta: float, within: float) -> float:
    """Mass of arriving-to-wait contacts answered within ``within`` seconds: the chain on "j ahead" with moves
    j → j−1 at r_j (from j = 0: answered) and abandonment at θ, started from the arrival distribution; an absorbing
    "answered" state collects r₀·p₀, so one matrix-exponential product gives the answer exactly."""
    if within <= 0 or queue.size == 0:
        return 0.0
    # Drop the negligible tail: the matrix exponential then works only on states that carry mass.
    keep = min(queue.size, int(np.searchsorted(np.cumsum(queue), queue.sum() * (1.0 - 1e-15))) + 2)
    q, rr = queue[:keep], r[:keep]
    # Index 0 = answered, index j+1 = j ahead; column-vector form dp/dt = M p with M bidiagonal:
    # (M p)[i] = diagonal[i]·p[i] + upper[i]·p[i+1]. Uniformization (P = I + M/Λ, Poisson(Λt) weights) keeps every
    # term non-negative, so nothing cancels; for small, bidiagonal M it is far cheaper than a general expm.
    diagonal = np.concatenate(([0.0], -(rr + theta)))
    upper = rr
    lam = float(-diagonal.min())
    mean = lam * within
    steps = int(mean + 12.0 * math.sqrt(mean) + 30)
    k = np.arange(steps + 1, dtype=float)
    weights = np.exp(k * math.log(mean) - mean - gammaln(k + 1.0)) if mean > 0 else (k == 0).astype(float)
    x = np.concatenate(([0.0], q))
    answered = weights[0] * x[0]
    for n in range(1, steps + 1):
        mx = diagonal * x
        mx[:-1] += upper * x[1:]
        x = x + mx / lam
        answered += weights[n] * x[0]
    return float(answered)


def figures(agents: int, rate: float, aht: float, within: float, patience: float | None) -> Staffing:
    """Erlang A when a patience is given, else Erlang C."""
    if patience is None:
        return erlang_c_figures(agents, rate, aht, within)
    return erlang_a_figures(agents, rate, aht, patience, within)


def required_agents(
    rate: float,
    aht: float,
    target: float,
    within: float,
    patience: float | None = None,
    max_occupancy: float = 1.0,
    max_abandon: float | None = None,
) -> Staffing:
    """The fewest agents whose service level reaches ``target`` (occupancy ≤ ``max_occupancy``, and with a
    patience, P(abandon) ≤ ``max_abandon`` when given).

    Service level grows with agents, so a binary search over [1, A + 10√A + 20] costs O(log A) evaluations,
    each O(N): fast at thousands of agents."""
    if rate <= 0:
        return Staffing(0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, "erlang_a" if patience else "erlang_c")
    if not 0.0 < target < 1.0:
        raise ValueError("target must be between 0 and 1")
    a = rate * aht

    def ok(n: int) -> bool:
        s = figures(n, rate, aht, within, patience)
        return (
            s.service_level >= target
            and s.occupancy <= max_occupancy
            and (max_abandon is None or s.p_abandon <= max_abandon)
        )

    if patience is None:
        lo, hi = 1, math.ceil(a + 10.0 * math.sqrt(a) + 20)
    else:
        # Abandonment only helps the service level, so Erlang C's answer (closed form, cheap) bounds Erlang A's from
        # above; gallop down from it, since the two usually differ by a few agents.
        c = required_agents(rate, aht, target, within, None, max_occupancy)
        hi, step = c.agents, 1
        while hi - step >= 1 and ok(hi - step):
            hi -= step
            step *= 2
        lo = max(1, hi - step)
    while not ok(hi):
        hi *= 2
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return figures(lo, rate, aht, within, patience)


def chat_staffing(
    rate: float, aht_at_concurrency: float, concurrency: int, target: float, within: float, patience: float | None
) -> tuple[int, Staffing]:
    """Chat with ``concurrency`` simultaneous conversations per agent, the honest way the docs describe: each agent
    is ``concurrency`` servers whose handle time is the one *measured at that concurrency* (longer than a chat's
    handle time alone, because the agent's attention is shared); agents = ⌈slots ÷ concurrency⌉. Erlang treats the
    slots as independent, which they are not (a busy agent slows all their chats), so the figure is optimistic; the
    simulator is the check."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    slots = required_agents(rate, aht_at_concurrency, target, within, patience)
    return math.ceil(slots.agents / concurrency), slots
