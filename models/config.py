"""The architecture of a models.Transformer in one dataclass, checked where it is made.

    config = TransformerConfig(src_vocab=229, tgt_vocab=397, pos="rope")
    model = Transformer(config)              # or Transformer(229, 397, pos="rope")
    model.config                             # the config it was built from
    theirs = interop.to_torch(model)         # interop.TorchTransformer(model.config)

The same config builds our model and its PyTorch twin (tinygrad_attn.interop), and the
translation example makes one from its run settings (examples/train_translation.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.positional import POSITION_SCHEMES

ACTIVATIONS = ("relu", "gelu")


@dataclass(frozen=True)
class TransformerConfig:
    """Every architecture setting of a models.Transformer, with its defaults.

    Fields (E = d_model, H = nhead):
      src_vocab, tgt_vocab: the source and target vocabulary sizes (token ids 0 .. size - 1).
      d_model: E, the embedding and residual width; a multiple of nhead.
      nhead: H, the attention heads of every attention (head dim E / H).
      num_encoder_layers, num_decoder_layers: the layers of each stack.
      dim_feedforward: the hidden width of the position-wise feed-forward blocks.
      dropout: the dropout probability everywhere (embeddings, attention weights, sublayers).
      max_len: the longest source or target the model accepts (and the position tables' size).
      norm_first: pre-norm x + f(norm(x)) with a final LayerNorm per stack, instead of the
        paper's post-norm norm(x + f(x)).
      pad_id: the padding token of both vocabularies: its embedding row is zero and it is
        masked as a key everywhere.
      activation: the feed-forward non-linearity, "relu" or "gelu".
      tie_embeddings: the output projection reuses the target embedding matrix (Press & Wolf
        2017) instead of a Linear of its own.
      pos: the position information (models/positional.py): "sinusoidal" or "learned" (added
        to the embeddings), or relative, in the self-attention only: "rope" (an even head dim),
        "alibi" or "t5".
      src_bos: None, or a source token id other than pad_id put before every source inside the
        encoder and left out of the memory (an anchor for the relative schemes).

    A value out of range is a ValueError naming the field and the value. Frozen: change a
    field with `dataclasses.replace(config, pos="rope")`, which checks again.
    """

    src_vocab: int
    tgt_vocab: int
    d_model: int = 128
    nhead: int = 4
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    dim_feedforward: int = 512
    dropout: float = 0.1
    max_len: int = 256
    norm_first: bool = False
    pad_id: int = 0
    activation: str = "relu"
    tie_embeddings: bool = False
    pos: str = "sinusoidal"
    src_bos: int | None = None

    def __post_init__(self) -> None:
        for name in ("src_vocab", "tgt_vocab", "d_model", "nhead", "dim_feedforward", "max_len"):
            if getattr(self, name) < 1:
                self._fail(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("num_encoder_layers", "num_decoder_layers"):
            if getattr(self, name) < 0:
                self._fail(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.d_model % self.nhead:
            self._fail(f"d_model {self.d_model} is not divisible by nhead {self.nhead}")
        if not 0 <= self.dropout <= 1:
            self._fail(f"dropout must be in [0, 1], got {self.dropout}")
        if not 0 <= self.pad_id < min(self.src_vocab, self.tgt_vocab):
            self._fail(
                f"pad_id must be a token id of both vocabularies (0 .. "
                f"{min(self.src_vocab, self.tgt_vocab) - 1}), got {self.pad_id}"
            )
        if self.activation not in ACTIVATIONS:
            self._fail(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.pos not in POSITION_SCHEMES:
            self._fail(f"pos must be one of {POSITION_SCHEMES}, got {self.pos!r}")
        if self.pos == "rope" and (self.d_model // self.nhead) % 2:
            self._fail(f"rope needs an even head dim, got {self.d_model // self.nhead}")
        bos = self.src_bos
        if bos is not None and not (0 <= bos < self.src_vocab and bos != self.pad_id):
            self._fail(
                f"src_bos must be a source token id other than pad_id {self.pad_id} "
                f"(0 .. {self.src_vocab - 1}), got {bos}"
            )

    def layer_kwargs(self) -> dict[str, Any]:
        """The arguments of each encoder and decoder layer, in the names that both ours
        (models.TransformerEncoderLayer, ...) and torch.nn.TransformerEncoderLayer take."""
        return dict(
            d_model=self.d_model,
            nhead=self.nhead,
            dim_feedforward=self.dim_feedforward,
            dropout=self.dropout,
            activation=self.activation,
            norm_first=self.norm_first,
        )

    @staticmethod
    def _fail(message: str) -> None:
        raise ValueError(f"TransformerConfig: {message}")

    @classmethod
    def of(cls, *args: Any, **kwargs: Any) -> TransformerConfig:
        """A config given as itself (`of(config)`) or as TransformerConfig's arguments
        (`of(src_vocab, tgt_vocab, d_model=64, ...)`): the two ways to call Transformer and
        interop.TorchTransformer."""
        if args and isinstance(args[0], cls):
            if len(args) > 1 or kwargs:
                raise TypeError(
                    "TransformerConfig.of: a TransformerConfig comes alone; change a field with "
                    f"dataclasses.replace (got {len(args) - 1} more arguments and {kwargs})"
                )
            return args[0]
        return cls(*args, **kwargs)
