"""The architecture spec grammar: one compact string describes a network, layer by layer.

    conv(32, 5, padding=2) relu maxpool(2) conv(64, 5, padding=2) relu maxpool(2) dropout fc(1000) fc(10)

Grammar (whitespace is free; layers are separated by whitespace or commas):

    spec    := item ((" " | ",") item)*
    item    := layer | "[" spec "]" ("x" INT)?      a block (nn.Sequential), repeated INT times
    layer   := NAME ("(" arg ("," arg)* ")")?
    arg     := value | NAME "=" value
    value   := INT | FLOAT | INT "x" INT | WORD     3, 0.25, 3x5, same, true, classes

The layers, their positional parameters in order, and their defaults are in LAYERS below; `cnn shapes
--help` and the README list them. `classes` as a channel or feature count means "the number of classes
of the dataset", so one spec serves MNIST and CIFAR-10. Parsing is pure Python: `cnn shapes` uses it
without importing torch, and the model builder uses the very same result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from cnncli.core.errors import SpecError
from cnncli.core.units import format_pair

Pair = tuple[int, int]
Count = int | str  # an int, or "classes"
Padding = Pair | str  # (top/bottom, left/right), or "same" / "valid"

CLASSES = "classes"
MAX_NESTING = 32  # blocks inside blocks: deeper is no network anyone writes, and the parser recurses
MAX_LAYERS = 10_000  # layers once repeats are written out: analysing and building cost one step each
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
ACTIVATIONS = ("relu", "leakyrelu", "gelu", "tanh", "sigmoid")


# ---------------------------------------------------------------------------------------------
# The layers. Each is a frozen dataclass whose fields are the layer's parameters, named as
# torch.nn names them; `kind` is the spec name it is written back with.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conv:
    out_channels: Count
    kernel_size: Pair
    stride: Pair = (1, 1)
    padding: Padding = (0, 0)
    dilation: Pair = (1, 1)
    groups: int = 1
    bias: bool = True
    padding_mode: str = "zeros"
    kind = "conv"


@dataclass(frozen=True)
class Pool:
    """Max or average pooling; stride defaults to the kernel size, as in torch.nn."""

    op: str  # "max" or "avg"
    kernel_size: Pair
    stride: Pair | None = None
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)  # max pooling only
    ceil_mode: bool = False

    @property
    def kind(self) -> str:
        return f"{self.op}pool"

    @property
    def effective_stride(self) -> Pair:
        return self.stride if self.stride is not None else self.kernel_size


@dataclass(frozen=True)
class GlobalAvgPool:
    """Average over the whole feature map: C x H x W becomes C features."""

    kind = "gap"


@dataclass(frozen=True)
class BatchNorm:
    kind = "bn"


@dataclass(frozen=True)
class Activation:
    op: str  # one of ACTIVATIONS
    negative_slope: float = 0.01  # leakyrelu only

    @property
    def kind(self) -> str:
        return self.op


@dataclass(frozen=True)
class Dropout:
    p: float = 0.5
    kind = "dropout"


@dataclass(frozen=True)
class Flatten:
    kind = "flatten"


@dataclass(frozen=True)
class Linear:
    out_features: Count
    bias: bool = True
    kind = "fc"


@dataclass(frozen=True)
class Block:
    """Layers grouped into one nested module, optionally repeated."""

    layers: tuple[Layer, ...]
    repeat: int = 1
    kind = "block"


Layer = Conv | Pool | GlobalAvgPool | BatchNorm | Activation | Dropout | Flatten | Linear | Block


# ---------------------------------------------------------------------------------------------
# Parameter types: each turns a token's text into a value or says why it cannot.
# ---------------------------------------------------------------------------------------------

_INT = re.compile(r"[0-9]+")
_PAIR = re.compile(r"([0-9]+)x([0-9]+)")
_FLOAT = re.compile(r"[0-9]*\.?[0-9]+(?:e-?[0-9]+)?")


def _positive_int(text: str) -> int:
    if not _INT.fullmatch(text) or int(text) < 1:
        raise ValueError("a whole number of at least 1")
    return int(text)


def _non_negative_int(text: str) -> int:
    if not _INT.fullmatch(text):
        raise ValueError("a whole number of at least 0")
    return int(text)


def _pair(convert: Callable[[str], int]) -> Callable[[str], Pair]:
    def parse(text: str) -> Pair:
        match = _PAIR.fullmatch(text)
        if match:
            return convert(match.group(1)), convert(match.group(2))
        value = convert(text)
        return value, value

    return parse


def _count(text: str) -> Count:
    if text == CLASSES:
        return CLASSES
    try:
        return _positive_int(text)
    except ValueError:
        raise ValueError("a whole number of at least 1, or 'classes'") from None


def _padding(text: str) -> Padding:
    if text in ("same", "valid"):
        return text
    try:
        return _pair(_non_negative_int)(text)
    except ValueError:
        raise ValueError("a number of pixels (2 or 1x2), 'same' or 'valid'") from None


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise ValueError("true or false")


def _probability(text: str) -> float:
    if not _FLOAT.fullmatch(text) or not 0.0 <= float(text) < 1.0:
        raise ValueError("a probability in [0, 1)")
    return float(text)


def _float(text: str) -> float:
    if not _FLOAT.fullmatch(text):
        raise ValueError("a non-negative number")
    return float(text)


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError("one of " + ", ".join(options))
        return text

    return parse


@dataclass(frozen=True)
class Param:
    name: str  # the dataclass field
    parse: Callable[[str], Any]
    aliases: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class LayerDef:
    """How a layer is written: its names, its parameters in positional order, and how to build it."""

    names: tuple[str, ...]  # the first is canonical
    params: tuple[Param, ...]
    make: Callable[..., Layer]
    summary: str = ""


_SIZE = _pair(_positive_int)
_OFFSET = _pair(_non_negative_int)

LAYERS: tuple[LayerDef, ...] = (
    LayerDef(
        ("conv", "conv2d"),
        (
            Param("out_channels", _count, ("out", "channels"), required=True),
            Param("kernel_size", _SIZE, ("kernel", "k"), required=True),
            Param("stride", _SIZE, ("s",)),
            Param("padding", _padding, ("pad", "p")),
            Param("dilation", _SIZE, ("d",)),
            Param("groups", _positive_int, ("g",)),
            Param("bias", _bool),
            Param("padding_mode", _choice(*PADDING_MODES), ("mode",)),
        ),
        Conv,
        "2-D convolution: out_channels, kernel_size, stride=1, padding=0|same|valid, dilation=1, "
        "groups=1, bias=true, padding_mode=zeros|reflect|replicate|circular",
    ),
    LayerDef(
        ("maxpool", "mp"),
        (
            Param("kernel_size", _SIZE, ("kernel", "k"), required=True),
            Param("stride", _SIZE, ("s",)),
            Param("padding", _OFFSET, ("pad", "p")),
            Param("dilation", _SIZE, ("d",)),
            Param("ceil_mode", _bool, ("ceil",)),
        ),
        lambda **kw: Pool("max", **kw),
        "max pooling: kernel_size, stride=kernel_size, padding=0, dilation=1, ceil_mode=false",
    ),
    LayerDef(
        ("avgpool", "ap"),
        (
            Param("kernel_size", _SIZE, ("kernel", "k"), required=True),
            Param("stride", _SIZE, ("s",)),
            Param("padding", _OFFSET, ("pad", "p")),
            Param("ceil_mode", _bool, ("ceil",)),
        ),
        lambda **kw: Pool("avg", **kw),
        "average pooling: kernel_size, stride=kernel_size, padding=0, ceil_mode=false",
    ),
    LayerDef(("gap", "globalavgpool"), (), GlobalAvgPool, "global average pooling: C x H x W -> C"),
    LayerDef(("bn", "batchnorm"), (), BatchNorm, "batch normalisation (2-D on feature maps, 1-D on features)"),
    LayerDef(("relu",), (), lambda: Activation("relu"), "ReLU"),
    LayerDef(
        ("leakyrelu", "lrelu"),
        (Param("negative_slope", _float, ("slope",)),),
        lambda **kw: Activation("leakyrelu", **kw),
        "LeakyReLU: negative_slope=0.01",
    ),
    LayerDef(("gelu",), (), lambda: Activation("gelu"), "GELU"),
    LayerDef(("tanh",), (), lambda: Activation("tanh"), "tanh"),
    LayerDef(("sigmoid",), (), lambda: Activation("sigmoid"), "sigmoid"),
    LayerDef(("dropout", "drop"), (Param("p", _probability),), Dropout, "dropout: p=0.5"),
    LayerDef(("flatten",), (), Flatten, "C x H x W -> C*H*W features (implied before the first fc)"),
    LayerDef(
        ("fc", "linear"),
        (Param("out_features", _count, ("out", "features"), required=True), Param("bias", _bool)),
        Linear,
        "fully connected: out_features (a number or 'classes'), bias=true",
    ),
)

_BY_NAME: dict[str, LayerDef] = {name: d for d in LAYERS for name in d.names}


# ---------------------------------------------------------------------------------------------
# Tokenizer and parser
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # name, value, '(', ')', '[', ']', ',', '=', end
    text: str
    pos: int


_TOKEN = re.compile(
    r"\s*(?:(?P<value>[0-9]*\.?[0-9]+(?:e-?[0-9]+)?(?:x[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[()\[\],=*]))"
)


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            bad = len(text[pos:]) - len(text[pos:].lstrip()) + pos
            raise SpecError(f"unexpected character {text[bad]!r} in the spec", text, bad)
        start = match.start(match.lastgroup)  # type: ignore[arg-type]
        kind = match.lastgroup if match.lastgroup != "punct" else match.group("punct")
        tokens.append(Token(kind, match.group(match.lastgroup), start))  # type: ignore[arg-type]
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0  # blocks open around the current token

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def error(self, message: str, token: Token | None = None, hint: str | None = None) -> SpecError:
        return SpecError(message, self.text, (token or self.token).pos, hint)

    def take(self, kind: str) -> Token:
        token = self.token
        if token.kind != kind:
            found = "the end of the spec" if token.kind == "end" else repr(token.text)
            raise self.error(f"expected {kind!r} but found {found}")
        self.index += 1
        return token

    def spec(self, closing: str = "end") -> tuple[Layer, ...]:
        layers: list[Layer] = []
        while self.token.kind != closing:
            if self.token.kind == ",":
                self.index += 1
                continue
            if self.token.kind == "end":
                raise self.error("this block is never closed: add ']'")
            layers.append(self.item())
        if not layers:
            raise self.error("an empty spec" if closing == "end" else "an empty block")
        return tuple(layers)

    def item(self) -> Layer:
        if self.token.kind == "[":
            if self.depth == MAX_NESTING:
                raise self.error(f"blocks nest more than {MAX_NESTING} deep")
            self.index += 1
            self.depth += 1
            layers = self.spec(closing="]")
            self.take("]")
            self.depth -= 1
            return Block(layers, self.repeat())
        if self.token.kind != "name":
            raise self.error(f"expected a layer name but found {self.token.text!r}", hint=_layer_names_hint())
        return self.layer()

    def repeat(self) -> int:
        token = self.token
        if token.kind == "*" or (token.kind == "name" and re.fullmatch(r"x[0-9]+", token.text)):
            self.index += 1
            count = token.text[1:] if token.kind == "name" else self.take("value").text
            if not _INT.fullmatch(count) or int(count) < 1:
                raise self.error("a block repeats a whole number of times, at least 1", token)
            return int(count)
        return 1

    def layer(self) -> Layer:
        name_token = self.take("name")
        definition = _BY_NAME.get(name_token.text.lower())
        if definition is None:
            raise self.error(f"unknown layer {name_token.text!r}", name_token, _layer_names_hint())
        values: dict[str, Any] = {}
        if self.token.kind == "(":
            self.index += 1
            position = 0
            while self.token.kind != ")":
                self.argument(definition, values, position)
                position += 1
                if self.token.kind == ",":
                    self.index += 1
                elif self.token.kind != ")":
                    raise self.error(f"expected ',' or ')' after an argument of {definition.names[0]}")
            self.take(")")
        for param in definition.params:
            if param.required and param.name not in values:
                raise self.error(
                    f"{definition.names[0]} needs {param.name}",
                    name_token,
                    f"{definition.names[0]}: {definition.summary}",
                )
        return definition.make(**values)

    def argument(self, definition: LayerDef, values: dict[str, Any], position: int) -> None:
        start = self.token
        if start.kind == "name" and self.tokens[self.index + 1].kind == "=":
            param = _find_param(definition, start.text)
            if param is None:
                names = ", ".join(p.name for p in definition.params) or "no parameters"
                raise self.error(
                    f"{definition.names[0]} has no parameter {start.text!r}",
                    start,
                    f"{definition.names[0]} takes {names}",
                )
            self.index += 2
        else:
            if position >= len(definition.params):
                most = f"at most {len(definition.params)} arguments" if definition.params else "no arguments"
                raise self.error(
                    f"{definition.names[0]} takes {most}", start, f"{definition.names[0]}: {definition.summary}"
                )
            param = definition.params[position]
        if param.name in values:
            raise self.error(f"{param.name} is given twice", start)
        token = self.token
        if token.kind not in ("value", "name"):
            raise self.error(f"expected a value for {param.name}")
        self.index += 1
        try:
            values[param.name] = param.parse(token.text)
        except ValueError as exc:
            raise self.error(
                f"{param.name} of {definition.names[0]} must be {exc}, not {token.text!r}", token
            ) from None


def _find_param(definition: LayerDef, name: str) -> Param | None:
    for param in definition.params:
        if name == param.name or name in param.aliases:
            return param
    return None


def _layer_names_hint() -> str:
    return "layers: " + ", ".join(d.names[0] for d in LAYERS) + "; group with [ ... ] and repeat with x2"


def parse_spec(text: str) -> tuple[Layer, ...]:
    """Parse a spec string into layers, raising SpecError with the column of the first fault."""
    parser = _Parser(text)
    layers = parser.spec()
    count = expanded_count(layers)
    if count > MAX_LAYERS:
        raise SpecError(
            f"the spec has {count:,} layers once its repeats are written out, more than {MAX_LAYERS:,}",
            hint="repeat blocks fewer times",
        )
    return layers


def expanded_count(layers: tuple[Layer, ...]) -> int:
    """How many layers the spec has with every repeat written out, computed without writing them out."""
    return sum(expanded_count(layer.layers) * layer.repeat if isinstance(layer, Block) else 1 for layer in layers)


# ---------------------------------------------------------------------------------------------
# Writing a spec back: format_spec(parse_spec(s)) parses to the same layers (tests check it).
# ---------------------------------------------------------------------------------------------


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return format_pair(value)
    return str(value)


def format_layer(layer: Layer) -> str:
    """One layer in spec syntax, with only the parameters that differ from their defaults."""
    if isinstance(layer, Block):
        inner = " ".join(format_layer(child) for child in layer.layers)
        return f"[{inner}]" + (f"x{layer.repeat}" if layer.repeat != 1 else "")
    definition = _definition_of(layer)
    defaults = {f.name: f.default for f in fields(layer)}  # type: ignore[arg-type]
    args: list[str] = []
    keyword = False
    for param in definition.params:
        value = getattr(layer, param.name)
        if not param.required and value == defaults[param.name]:
            keyword = True  # a skipped parameter: later ones must be named
            continue
        text = _format_value(value)
        args.append(f"{param.name}={text}" if keyword and not param.required else text)
    name = definition.names[0]
    return f"{name}({', '.join(args)})" if args else name


def _definition_of(layer: Layer) -> LayerDef:
    return _BY_NAME[layer.kind]


def format_spec(layers: tuple[Layer, ...]) -> str:
    return " ".join(format_layer(layer) for layer in layers)


def expand_blocks(layers: tuple[Layer, ...]) -> tuple[Layer, ...]:
    """Repeated blocks written out: [a b]x2 becomes [a b] [a b] (each a block of its own)."""
    out: list[Layer] = []
    for layer in layers:
        if isinstance(layer, Block):
            inner = Block(expand_blocks(layer.layers))
            out.extend(replace(inner, repeat=1) for _ in range(layer.repeat))
        else:
            out.append(layer)
    return tuple(out)
