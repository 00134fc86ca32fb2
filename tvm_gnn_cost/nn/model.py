"""The graph neural network: stage graphs in, a ranking score and a log-latency out.

Pure torch + torch_geometric; imports no TVM.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch_geometric.nn import GATv2Conv
from torch_geometric.nn.aggr import AttentionalAggregation, SumAggregation

from .graph import CPU_FEATURES, EDGE_FEATURES, NODE_FEATURES

#: Name stored in checkpoints; a file naming another architecture is refused.
ARCHITECTURE = "StageGNN"
#: What ``GNNConfig.input_norm`` can name.
INPUT_NORMS = ("layer", "fitted")
#: What ``GNNConfig.readout`` can name.
READOUTS = ("pooled", "stages")


@dataclass(frozen=True)
class GNNConfig:
    """Architecture of :class:`StageGNN` (stored in every checkpoint).

    Attributes:
        node_features: width of a node feature row (:data:`graph.NODE_FEATURES`).
        edge_features: width of an edge feature row (:data:`graph.EDGE_FEATURES`).
        cpu_features: width of the graph-level CPU row (:data:`graph.CPU_FEATURES`); 0 ignores
            the CPU (checkpoints of format 1 had no CPU input).
        hidden: width of node embeddings.
        num_layers: message-passing layers; 0 switches message passing off (the ablation).
        heads: attention heads per layer (averaged).
        log_latency_center: the latency head predicts ``center + scale * out``
            (log seconds), so an untrained head starts near 100 us.
        log_latency_scale: see ``log_latency_center``.
        dropout: dropout rate on node embeddings and on the pooled graph embedding (training only).
        input_norm: ``"layer"`` normalises each node's feature row (LayerNorm); ``"fitted"``
            standardises each feature column by a mean and spread fitted on the training set
            (:class:`Standardize`, fitted by :meth:`GNNLearner.fit_input_norm`), kept in the weights.
        readout: ``"pooled"`` runs the head on the graph's pooled embedding (sum and attention);
            ``"stages"`` runs it on every stage and adds the stages up (scores summed, latencies
            summed as seconds), so each stage's cost stays its own, in the context message passing gave it.
    """

    node_features: int = NODE_FEATURES
    edge_features: int = EDGE_FEATURES
    cpu_features: int = len(CPU_FEATURES)
    hidden: int = 64
    num_layers: int = 2
    heads: int = 2
    log_latency_center: float = -9.0
    log_latency_scale: float = 3.0
    dropout: float = 0.0
    input_norm: str = "layer"
    readout: str = "pooled"

    def __post_init__(self) -> None:
        if self.input_norm not in INPUT_NORMS:
            raise ValueError(f"input_norm={self.input_norm!r}; choose one of {INPUT_NORMS}")
        if self.readout not in READOUTS:
            raise ValueError(f"readout={self.readout!r}; choose one of {READOUTS}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout={self.dropout} must be in [0, 1)")


class Standardize(nn.Module):
    """Per-feature ``(x - mean) / std`` with statistics fitted on training data, kept as buffers (saved with the weights)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("std", torch.ones(width))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        """Fit mean and spread to rows ``x`` ``[N, width]``; a constant feature gets spread 1 (maps to 0)."""
        self.mean.copy_(x.mean(0))
        std = x.std(0, unbiased=False)
        self.std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class StageGNN(nn.Module):
    r"""Inductive message passing over stage graphs with attention.

    Each layer is GraphSAGE-shaped, a root update plus an aggregation of neighbours, where the
    aggregation is GATv2 attention conditioned on the edge features (edge type one-hot, shared
    loops, buffer bytes):

    .. math::
        h_i' = \mathrm{LN}\Big(h_i + \mathrm{ReLU}\big(W_r h_i +
               \sum_{j \in N(i)} \alpha_{ij} W_n h_j\big)\Big)

    The CPU's features enter every node's embedding (a learned projection added after the
    encoder), so message passing and readout see what the CPU offers. The graph readout concatenates a sum over stages (stage costs add up, as in XGBModel's
    pack-sum) with an attention-weighted pooling, and an MLP gives two outputs.

    Shapes:
        - input: x ``[N, node_features]``, edge_index ``[2, E]``, edge_attr
          ``[E, edge_features]``, batch ``[N]`` (graph of each node), num_graphs ``B``, cpu
          ``[B, cpu_features]`` (ignored when the config has none)
        - output: score ``[B]`` (higher is faster; ranking only), log_latency ``[B]`` (log s)
    """

    def __init__(self, config: GNNConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden
        self.input_norm = (nn.LayerNorm(config.node_features) if config.input_norm == "layer"
                           else Standardize(config.node_features))
        self.encoder = nn.Sequential(nn.Linear(config.node_features, h), nn.ReLU(), nn.Linear(h, h))
        self.dropout = nn.Dropout(config.dropout)
        self.cpu_encoder = nn.Linear(config.cpu_features, h) if config.cpu_features else None
        self.convs = nn.ModuleList(
            GATv2Conv(h, h, heads=config.heads, concat=False, edge_dim=config.edge_features,
                      add_self_loops=False)
            for _ in range(config.num_layers)
        )
        self.roots = nn.ModuleList(nn.Linear(h, h) for _ in range(config.num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(h) for _ in range(config.num_layers))
        self.sum_pool = SumAggregation()
        if config.readout == "pooled":
            self.attention_pool = AttentionalAggregation(gate_nn=nn.Linear(h, 1))
        self.head = nn.Sequential(nn.Linear(2 * h if config.readout == "pooled" else h, h), nn.ReLU(), nn.Linear(h, 2))

    def reset_parameters(self) -> None:
        """Re-initialise every layer."""
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        edge_attr: torch.Tensor,
        batch: torch.Tensor,
        num_graphs: int,
        cpu: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        z, owner = self.embed(x, edge_index, edge_attr, batch, num_graphs, cpu)
        return self.read(z, owner, num_graphs)

    def embed(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        edge_attr: torch.Tensor,
        batch: torch.Tensor,
        num_graphs: int,
        cpu: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """What the head reads, and the graph each row belongs to: the pooled graph embeddings
        ``[B, 2h]`` (rows in graph order), or with ``readout="stages"`` every stage's ``[N, h]``."""
        h = self.encoder(self.input_norm(x))
        if self.cpu_encoder is not None:
            if cpu is None:
                raise ValueError("this network takes the CPU's features: pass cpu [num_graphs, cpu_features]")
            h = h + self.cpu_encoder(cpu)[batch]
        h = self.dropout(h)
        for conv, root, norm in zip(self.convs, self.roots, self.norms):
            h = norm(h + torch.relu(root(h) + conv(h, edge_index, edge_attr)))
        if self.config.readout == "stages":
            return h, batch
        pooled = torch.cat(
            [self.sum_pool(h, batch, dim_size=num_graphs), self.attention_pool(h, batch, dim_size=num_graphs)],
            dim=-1,
        )
        return pooled, torch.arange(num_graphs)

    def read(self, z: torch.Tensor, owner: torch.Tensor, num_graphs: int,
             head: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(score, log seconds) per graph from :meth:`embed`'s rows; ``head``: another head of the
        same shape to read with (an ensemble member) instead of this network's."""
        head = head or self.head
        out = head(self.dropout(z))
        if self.config.readout == "pooled":
            return out[:, 0], self.config.log_latency_center + self.config.log_latency_scale * out[:, 1]
        # stages: a graph's score is the sum of its stages', its time the sum of their times
        score = self.sum_pool(out[:, :1], owner, dim_size=num_graphs)[:, 0]
        stage_log = self.config.log_latency_center + self.config.log_latency_scale * out[:, 1]
        peak = torch.full((num_graphs,), -torch.inf, dtype=stage_log.dtype).scatter_reduce(
            0, owner, stage_log.detach(), "amax")  # a stable log-sum-exp per graph
        total = self.sum_pool(torch.exp(stage_log - peak[owner])[:, None], owner, dim_size=num_graphs)[:, 0]
        return score, peak + torch.log(total)

    def __repr__(self) -> str:
        c = self.config
        return f"{type(self).__name__}(hidden={c.hidden}, num_layers={c.num_layers}, heads={c.heads})"
