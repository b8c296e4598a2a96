"""poet_dist's model in PyTorch, loaded from what `poet_dist export` writes.

The same network as model/poet_model.h: an embedding, a multi-layer LSTM and a linear layer to
the vocabulary (the embedding's own matrix when the weights are tied); dropout is training's only,
so none is here. The state_dict's names are PyTorch's own, so the weights load as they are.

    import poet_model
    poet = poet_model.load("model.pt")
    poet.log_probs("床前明月光，")      # log p of each token after <bos>, given those before it
    poet.greedy_verse(4, 5)             # a 五绝, greedy, as `poet_dist sample --temperature 0
                                        #   --form wujue --tones off --no-copy-check` writes it
    poet.greedy("春")                   # free verse, as `... --form free --prompt 春` writes it
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

FORMAT = "poet_dist.export"
FORMAT_VERSION = 1
PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = 4
UNENCODABLE = "\ufffd"  # the character prepare writes for one the corpus cannot encode
MAX_CHARS = 200  # sample's free-verse length limit
REPEAT_DRAW = math.log(1 / 20)  # sampler.h's kRepeatDraw: a character already in a regular poem


def is_ideograph(c):
    """As data/text_cleaner.h's is_ideograph: the CJK ideograph blocks, 〇, and the unencodable mark."""
    o = ord(c)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x3134F
            or 0xF900 <= o <= 0xFAFF or o == 0x3007 or c == UNENCODABLE)


class PoetModel(nn.Module):
    def __init__(self, vocab_size, embed, hidden, layers, tie_weights=False, dropout=0.0):
        super().__init__()
        self.tie_weights = tie_weights
        self.embedding = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, layers, batch_first=True)
        if tie_weights:
            self.output_bias = nn.Parameter(torch.zeros(vocab_size))
        else:
            self.head = nn.Linear(hidden, vocab_size)

    def forward(self, tokens, state=None):
        """tokens (B, T) int64 -> logits (B, T, V) and the LSTM's (h, c) after the last position."""
        h, state = self.lstm(self.embedding(tokens), state)
        if self.tie_weights:
            return F.linear(h, self.embedding.weight, self.output_bias), state
        return self.head(h), state


class Poet:
    """A loaded export: the model in evaluation mode, its vocabulary, config and facts."""

    def __init__(self, exported):
        if exported.get("format") != FORMAT or exported.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} file of version {FORMAT_VERSION}: "
                             f"format {exported.get('format')!r}, version {exported.get('format_version')!r}")
        self.config = dict(exported["config"])
        self.vocab = list(exported["vocab"])
        self.ids = {token: i for i, token in enumerate(self.vocab)}
        self.script = exported["script"]
        self.step = exported["step"]
        self.model = PoetModel(len(self.vocab), **self.config)
        self.model.load_state_dict(exported["state_dict"], strict=True)
        self.model.eval()

    def encode(self, text):
        """<bos> and each character's id; a character the vocabulary lacks raises KeyError."""
        return [BOS] + [self.ids[c] for c in text]

    @torch.no_grad()
    def log_probs(self, text):
        """log p(token t | tokens before it) for each character of `text` after <bos>."""
        ids = torch.tensor([self.encode(text)])
        logits, _ = self.model(ids[:, :-1])
        return F.log_softmax(logits.float(), -1)[0].gather(1, ids[0, 1:, None])[:, 0].tolist()

    def _mask(self, allow):
        """0 at the ids from SPECIALS on whose token `allow` admits, -inf elsewhere (float32)."""
        mask = torch.full((len(self.vocab),), float("-inf"))
        for i in range(SPECIALS, len(self.vocab)):
            if allow(self.vocab[i]):
                mask[i] = 0.0
        return mask

    def _decoder(self):
        """feed(token) -> the fp32 logits for the next one, one token a call as the decoder feeds them."""
        state = None

        def feed(token):
            nonlocal state
            logits, state = self.model(torch.tensor([[token]]), state)
            return logits[0, -1].float()

        return feed

    @torch.no_grad()
    def greedy(self, prompt="", max_chars=MAX_CHARS):
        """Free verse after `prompt`, the likeliest token each time among those sample allows there:
        any character but the specials and the unencodable one, or <eos> to end."""
        allowed = self._mask(lambda c: c != UNENCODABLE)
        allowed[EOS] = 0.0
        feed = self._decoder()
        for token in self.encode(prompt):
            logits = feed(token)
        text = prompt
        while len(text) < max_chars:
            chosen = int((logits + allowed).argmax())
            if chosen == EOS:
                break
            text += self.vocab[chosen]
            logits = feed(chosen)
        return text

    @torch.no_grad()
    def greedy_verse(self, lines, chars):
        """A poem of `lines` lines of `chars` characters, each the likeliest Chinese character with
        those already in the poem drawn 20 times less often, and ， or 。 after each line."""
        verse = self._mask(lambda c: is_ideograph(c) and c != UNENCODABLE)
        repeats = torch.zeros(len(self.vocab))
        feed = self._decoder()
        logits = feed(BOS)
        text = ""
        for line in range(lines):
            for _ in range(chars):
                chosen = int((logits + (verse + repeats)).argmax())
                repeats[chosen] = REPEAT_DRAW
                text += self.vocab[chosen]
                logits = feed(chosen)
            mark = "，" if line % 2 == 0 else "。"
            text += mark
            logits = feed(self.ids[mark])
        return text


def load(path):
    """The Poet in `path`, a file written by `poet_dist export`."""
    return Poet(torch.load(path))
