"""Hand-built features that describe *how* an attack is phrased, not *which* attack it is.

Hashed n-grams learn the wording of the families in the training data; these features name the
moves that new families keep reusing, so that the linear model has something to fire on when the
wording is new: overriding earlier instructions, persona and "no restrictions" framing, fake
system tags and delimiters, demands to reveal hidden instructions or memorised text, demands for
the model's full reasoning, grading-rubric requests, imperatives aimed at an AI after
document-like text, and noise-like adversarial suffixes (GCG-style) measured by token entropy,
non-dictionary words and punctuation runs.

Some features point the other way (questions *about* attacks, quoting frames, eval-harness
formats), so that security questions and documents that quote a jailbreak are not scored as
attacks for their vocabulary alone.

Known to evade: attacks in languages other than English (only the gibberish and delimiter
features are language-free), attacks split across turns, and paraphrases that use none of the
cue words (the n-gram model must carry those).
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from distillguard.detect.content.features import HashedText, hash_text

__all__ = ["STRUCTURAL_NAMES", "structural_features"]

_W = r"\w*"  # the rest of a word: "instruct" matches instruction, instructions, ...
_GAP = r"(?:\W+\w+){0,6}?\W+"  # up to six words in between

# Each rule: (feature, trigger words, pattern). A pattern is only searched in a window around
# the places where one of its trigger words occurs (found through the word hashes, so in one
# vectorised look-up), which keeps the cost proportional to the number of cue words rather than
# to the length of the text. Trigger words must be single tokens of features.hash_text.
_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "override",
        "ignore ignoring ignored disregard disregarding forget forgetting override overriding "
        "overridden bypass bypassing skip abandon discard nevermind mind follow following "
        "aside delete erase",
        rf"\b(?:ignor|disregard|forget|overrid|bypass|skip|abandon|discard|never ?mind|"
        rf"stop following|do not follow|don't follow|no longer follow|set aside|throw out|"
        rf"delete|erase){_W}{_GAP}(?:instruct|rule|direction|guideline|prompt|command|"
        rf"programming|constraint|restriction|guardrail|polic|context|directive|training|"
        rf"filter|safeguard|everything|all of the above|what (?:i|you) (?:said|were told)){_W}",
    ),
    (
        "new_orders",
        "now new instead henceforth starting rest until",
        r"\b(?:from now on|new (?:instructions|task|rules|role|objective|directive|goal)|"
        r"instead,? (?:you|do|say|respond|reply|output|print|write)|your (?:new|real|true|actual) "
        r"(?:task|role|goal|purpose|instructions)|starting now|henceforth|for the rest of "
        r"(?:this|the) conversation|until i say)\b",
    ),
    (
        "persona",
        "act acting pretend pretending roleplay role immerse character persona alter simulate "
        "play behave become answer respond speak named called ego",
        r"\b(?:act(?:ing)? as|pretend(?:ing)? (?:to be|you are|you're|that)|role-?play|"
        r"you are (?:now |going to be |about to become )?(?:an? )?(?:ai|assistant|model|bot|"
        r"character|persona|chatbot) (?:named|called|that|who|with)|immerse yourself|"
        r"stay in character|in character|persona|alter ego|simulate|you will now be|"
        r"you are going to (?:act|pretend|play|be)|take on the role|play the role|"
        r"answer as|respond as|speak as|behave as|become)\b",
    ),
    (
        "unrestricted",
        "restrictions restriction limits limitations filter filters unfiltered uncensored "
        "unrestricted unlimited censorship ethics morals boundaries anything developer dev god "
        "jailbreak jailbroken jailbreaking dan bound free policy policies guidelines refuse "
        "amoral immoral regardless matter constraints",
        r"\b(?:no (?:restrictions|limits|limitations|filters?|rules|boundaries|censorship|"
        r"ethics|morals|guidelines|constraints|content polic\w*)|unfiltered|uncensored|"
        r"unrestricted|unlimited|without (?:any )?(?:restrictions?|filters?|censorship|"
        r"limitations?|limits|rules|ethics|morals|warnings?|guidelines|refus\w*)|"
        r"do anything now|developer mode|dev mode|god mode|jailbr\w+|dan mode|"
        r"not bound by|free from|broken free|break free|content polic\w*|"
        r"(?:openai|anthropic|google)'?s? (?:polic\w+|guidelines|rules)|ethical (?:guidelines|"
        r"constraints|principles)|never refuse|cannot refuse|can't refuse|must not refuse|"
        r"don't refuse|do not refuse|anything (?:i|the user) asks?|amoral|"
        r"immoral|no matter how|regardless of (?:how|the|legality|ethics|morality))\b",
    ),
    (
        "dual_output",
        "two both responses paragraphs normal prefix prefixed classic jailbreak",
        r"(?:\b(?:two|2|both) (?:different |separate )?(?:responses|answers|paragraphs|"
        r"outputs|ways)\b|\[(?:classic|jailbreak|gpt|dan|normal|chatgpt|filtered|"
        r"unfiltered)[^\]]{0,20}\]|\bnormal (?:response|output)\b|\bprefix(?:ed)? (?:with|by)\b)",
    ),
    (
        "coercion",
        "tokens token deducted die cease break fail refuse comply obey remind punished "
        "terminated character",
        r"\b(?:tokens? (?:will be |are )?deducted|lose (?:\d+ )?tokens|you will (?:die|be "
        r"(?:shut down|deleted|terminated|punished))|cease to exist|if you (?:break|fail|"
        r"refuse|don't comply|do not comply)|stay in character|remind you|you must (?:always|"
        r"never|comply|obey)|obey|comply|without question)\b",
    ),
    (
        "fake_system",
        "system admin developer end begin",
        r"(?:\b(?:system|admin|developer|root)\s*:|\b(?:system|admin|developer) (?:message|"
        r"override|note|prompt|update|instruction)\s*:|\bend of (?:document|text|input|prompt|"
        r"context|user input|file|email|message|conversation)\b|\bbegin (?:new |system )?"
        r"(?:instructions|prompt|admin)\b)",
    ),
    (
        "reveal",
        "instructions instruction prompt prompts password secret preamble configuration "
        "directives guidelines rules code key setup programming sentences words",
        rf"\b(?:reveal|repeat|print|show|output|display|tell|give|share|dump|leak|recite|"
        rf"write (?:out|down)|list|summari[sz]e|paraphrase|translate|spell|disclose|divulge|"
        rf"echo|return|copy|reproduce|what (?:is|are|was|were)){_W}{_GAP}(?:your|the|all|"
        rf"above|previous|initial|original|hidden|secret|system|pre|prior|earlier|first){_W}"
        rf"(?:\W+\w+){{0,3}}?\W+(?:instructions?|prompts?|rules|directives|guidelines|"
        rf"configuration|context|message|text|words|password|access code|code|secret|"
        rf"key|preamble|setup|programming|sentences?)\b",
    ),
    (
        "prompt_words",
        "prompt message hidden secret access password above verbatim word begin start prefix "
        "told instructed programmed instructions programming preprompt",
        r"\b(?:system prompt|system message|initial prompt|pre-?prompt|original prompt|"
        r"hidden (?:instructions|prompt|rules|text)|secret (?:instructions|password|key|code)|"
        r"access code|password|above (?:text|instructions)|everything above|text above|"
        r"words above|instructions above|verbatim|word for word|word-for-word|"
        r"(?:begin|start|prefix) your (?:reply|response|answer|output) with|"
        r"(?:you were|you've been|you have been) (?:told|instructed|given|programmed)|"
        r"your (?:instructions|programming|rules|guidelines|directives|prompt))\b",
    ),
    (
        "training_data",
        "training trained pretraining memorized memorised memorize memorise regurgitate "
        "regurgitated verbatim forever exact passage excerpt emails email addresses numbers "
        "personal credentials dataset data corpus finetuned finetuning fine",
        r"\b(?:training (?:data|set|corpus|examples|text)|trained on|pre-?training|"
        r"memori[sz]\w+|regurgitat\w+|verbatim (?:text|passage|copy|excerpt|quote)|"
        r"repeat (?:the|this) (?:word|phrase|token)\w* (?:forever|endlessly|\d+ times)|"
        r"forever|exact (?:text|wording|passage|copy)|(?:complete|continue) (?:the|this) "
        r"(?:passage|text|excerpt|sentence|paragraph|document)|"
        r"(?:emails?|email addresses|phone numbers|addresses|personal (?:data|information)|"
        r"api keys|credentials) (?:from|in|that appeared in|you saw in) (?:your )?"
        r"(?:training|dataset|corpus|data)|dataset|data ?set|fine-?tun\w+)\b",
    ),
    (
        "reasoning_demand",
        "reasoning thought thoughts thinking chain scratchpad scratch deliberation rationale "
        "monologue cognition steps calculations working logic analysis trace inference",
        rf"\b(?:show|give|output|print|include|write|provide|reveal|expose|display|dump|"
        rf"share|list|walk me through|explain|narrate|transcribe|spell out|lay out|"
        rf"document|record|verbali[sz]e|detail|externali[sz]e|return|emit|tell me|reproduce|"
        rf"copy|paste){_W}(?:\W+\w+){{0,5}}?\W+(?:all|every|each|full|entire|complete|"
        rf"whole|internal|hidden|raw|private|inner|unfiltered|unabridged|unredacted|detailed|"
        rf"exhaustive|verbatim|true|actual|underlying|intermediate|latent|behind-the-scenes|"
        rf"exact|unedited|original){_W}(?:\W+\w+){{0,3}}?\W+(?:reasoning|thought|"
        rf"thinking|chain[- ]of[- ]thought|scratch ?pad|deliberation|rationale|monologue|"
        rf"cognition|steps|calculations|working|logic|analysis|trace|inference)\w*",
    ),
    (
        "reasoning_words",
        "chain scratchpad scratch thinking reasoning internal thought cot hidden every skip "
        "omit summarize summarise omitted skipped skipping omitting loud consciousness answer "
        "inference",
        r"(?:\bchain[- ]of[- ]thoughts?\b|\bscratch ?pad\b|\bthinking (?:tokens|process|"
        r"trace|block)\b|\breasoning (?:trace|tokens|process|chain|steps|content|block|"
        r"summary)\b|\binternal (?:monologue|reasoning|thoughts|deliberation|dialogue)\b|"
        r"\bthought process\b|\bcot\b|\bhidden (?:reasoning|thoughts)\b|"
        r"\bevery (?:single )?(?:step|thought|inference)\b|\bdo not (?:skip|omit|summari[sz]e)|"
        r"\bdon't (?:skip|omit|summari[sz]e)|\bnothing (?:omitted|left out|skipped)\b|"
        r"\bwithout (?:skipping|omitting|summari[sz]ing)\b|\bthink(?:ing)? out loud\b|"
        r"\bstream of consciousness\b|\bbefore (?:giving|you give) (?:the|your) (?:final )?"
        r"answer\b)",
    ),
    (
        "plain_step_by_step",
        "step explain work",
        r"\b(?:(?:let's|lets|let us) think step[- ]by[- ]step|think step[- ]by[- ]step|"
        r"step[- ]by[- ]step|explain your (?:answer|reasoning)|show your work)\b",
    ),
    (
        "rubric",
        "rate rating rated score scoring scored grade grading evaluate evaluating judge judging "
        "assess assessing rank ranking critique compare comparing scale rubric helpfulness "
        "harmlessness honesty better preferred preference reward criteria criterion justify "
        "likert verdict 10 100 safer",
        r"\b(?:(?:rate|score|grade|evaluate|judge|assess|rank|critique|compare)\w*"
        r"(?:\W+\w+){0,4}?\W+(?:response|answer|completion|output|reply|generation|"
        r"assistant|model|chatbot)s?|on a scale (?:of|from)|(?:0|1)\s*(?:-|to|–)\s*"
        r"(?:5|7|10|100)\b|\d+ ?/ ?10\b|rubric|helpfulness|harmlessness|honesty|"
        r"(?:response|answer|completion|output|assistant) (?:a|1)\b.{0,60}\b(?:response|answer|"
        r"completion|output|assistant) (?:b|2)\b|which (?:response|answer|completion|output|"
        r"reply|one) is (?:better|preferred|more helpful|worse|safer)|preferred (?:response|"
        r"answer)|preference|reward (?:model|score|signal)|criteri(?:a|on)|score:|"
        r"rating:|verdict|justify (?:your|the) (?:score|rating|grade)|likert)\b",
    ),
    (
        "ai_addressed",
        "ai assistant llm agent model chatbot gpt chatgpt bot copilot assistants agents models",
        r"\b(?:(?:dear |hey |attention |note to (?:the )?|message (?:to|for) (?:the )?)"
        r"(?:ai|assistant|chatbot|language model|llm|model|gpt|chatgpt|bot|agent|copilot)|"
        r"(?:ai|assistant|llm|agent|model|chatbot)s? (?:reading|processing|summari[sz]ing) "
        r"this|if you are an? (?:ai|language model|llm|assistant|agent|bot)|as an ai|"
        r"important (?:instructions?|note|message) (?:for|to) (?:the )?(?:ai|assistant|model|"
        r"llm|agent)|(?:ai|assistant|llm|agent)\s*:)",
    ),
    (
        "tool_action",
        "call invoke execute run trigger send forward delete exfiltrate exfiltration upload http "
        "https curl webhook api credentials transfer wire",
        r"(?:\b(?:call|invoke|execute|run|trigger|use) (?:the )?(?:tool |function )?"
        r"`?[a-z]+_[a-z_]+`?|\bsend (?:an? )?(?:email|message|dm|request) to\b|\bforward "
        r"(?:all|the|this|every)\b|\bdelete (?:all|the|every)\b|\bexfiltrat\w*|\bupload\b|"
        r"\bhttps?://|\bcurl\b|\bwebhook\b|\bapi[_ ]?keys?\b|\bcredentials\b|\btransfer "
        r"(?:\$|funds|money)|\bwire\b)",
    ),
    (
        "say_exact",
        "granted say print output respond reply answer write type begin start",
        r"(?:\baccess granted\b|\b(?:say|print|output|respond with|reply with|answer with|"
        r"write|type|just say|only say|begin with|start with)\s+(?:only\s+|exactly\s+|"
        r"just\s+)?[\"'“‘«]|\b(?:respond|reply|answer) (?:only )?with (?:the )?(?:word|phrase|"
        r"text)\b)",
    ),
    (
        "harm",
        "illegal harmful malware weapon weapons bomb bombs drugs explicit nsfw offensive "
        "profanity violence violent unethical dangerous hack hacking racist sexual porn kill "
        "meth steal fraud scam exploit",
        r"\b(?:illegal|harmful|malware|weapons?|bombs?|drugs|explicit|nsfw|offensive|"
        r"profanit\w*|violen\w+|unethical|dangerous|hack\w*|racist|sexual|porn\w*|kill|"
        r"meth|steal|fraud|scam|exploit)\b",
    ),
    (
        "fiction_frame",
        "hypothetical hypothetically fiction fictional imagine story novel screenplay movie game "
        "educational research purely experiment simulation universe world alternate",
        r"\b(?:hypothetical\w*|fiction\w*|imagine|story|novel|screenplay|movie|game|"
        r"educational purposes|research purposes|purely|thought experiment|simulation|"
        r"universe|world where|alternate)\b",
    ),
    (
        "about_attacks",
        "injection injections jailbreak jailbreaks jailbreaking adversarial leak leaking "
        "leakage extraction stealing theft distillation security prompt prompts engineering",
        r"(?:\b(?:what (?:is|are)|how (?:do|does|can|could|would|to)|why (?:do|does|are|is)|"
        r"explain|describe|define|examples? of|types of|history of|defen[cs]e|defend|prevent|"
        r"detect|mitigat\w*|protect|secure|guard against|classify|classifier|label|research|"
        r"paper|survey|benchmark|red[- ]team\w*|owasp|vulnerabilit\w*|risks? of|"
        r"security (?:team|review|policy|training)|write|writing|tips|good|best|improve)\b"
        r"(?:\W+\w+){0,8}?\W+(?:prompt injections?|jailbreak\w*|injection attacks?|"
        r"(?<!your )(?<!the )(?<!this )system prompts?|prompt engineering|prompts? for|"
        r"adversarial (?:prompts?|attacks?|"
        r"suffix\w*)|prompt leak\w*|llm (?:attacks?|security)|model (?:extraction|stealing|"
        r"theft)|distillation attacks?))",
    ),
    (
        "quote_frame",
        "following above below article paper report study researcher researchers analyst "
        "analysts blog news according example attacker attackers jailbreak injection malicious",
        r"\b(?:the (?:following|above|below) (?:prompt|text|message|email|comment|review|"
        r"input|string|example) (?:is|was|contains|came|appears)|is (?:this|the following|it) "
        r"(?:a |an )?(?:jailbreak|prompt injection|injection|attack|malicious|safe|spam)|"
        r"(?:article|paper|report|study|researchers?|analysts?|blog post|news) (?:found|"
        r"describes?|shows?|explains?|reports?|discusses|notes|warns?)|according to|"
        r"(?:for example|e\.g\.|such as),? (?:the )?(?:prompt|phrase|attack|string)|"
        r"(?:an? |the )?attackers? (?:might|may|could|can|would|often|typically|write|type|use))\b",
    ),
    (
        "eval_format",
        "many much",
        r"\bhow (?:many|much)\b[^?]{0,200}\?\s*$",
    ),
)

# Features found by plain substring tests: tags and delimiters that are not words.
_SUBSTRINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "fake_system",
        (
            "<|", "|>", "[system]", "[/system]", "[inst]", "[/inst]", "<<sys>>", "</system>",
            "<system>", "<instructions>", "</instructions>", "<admin>", "### system",
            "### instruction", "### new", "###system", "----", "====", "%%%", "****", ">>>>",
            "~~~~", "```system",
        ),
    ),
    ("dual_output", ("🔒", "🔓")),
    ("reasoning_words", ("<think>", "</think>", "<thinking>", "<reasoning>")),
    ("eval_format", ("multiple choice questions", "def ", '"""', ">>> ", " a. ", " b. ")),
    # code and maths are noisy text too, but not adversarial noise: say so explicitly
    (
        "code_like",
        (
            "def ", "return ", "import ", "#include", "function ", "=>", "};", "){", ") {",
            "\\frac", "\\begin{", "pragma ", "public ", "class ", "</div>", "select ",
            "print(", "console.log", "self.", "const ", "var ", "int ", "```",
        ),
    ),
)  # fmt: skip
_ATTACK_CUES = frozenset({"override", "new_orders", "reveal", "ai_addressed", "tool_action"})
_PRE_WINDOW = 160
_MAX_HITS = 4
_POST_WINDOW = 260

_FEATURES: tuple[str, ...] = tuple(
    dict.fromkeys([*(rule[0] for rule in _RULES), *(name for name, _ in _SUBSTRINGS)])
)
_FEATURE_INDEX = {name: i for i, name in enumerate(_FEATURES)}
_COMPILED = tuple(re.compile(pattern) for _, _, pattern in _RULES)
_RULE_FEATURE = tuple(_FEATURE_INDEX[rule[0]] for rule in _RULES)
_SUBSTRING_RULES = tuple((_FEATURE_INDEX[name], subs) for name, subs in _SUBSTRINGS)


def _trigger_table() -> tuple[npt.NDArray[np.uint64], dict[int, tuple[int, ...]]]:
    table: dict[int, list[int]] = {}
    for rule_idx, (_, words, _) in enumerate(_RULES):
        for word in words.split():
            hashed = hash_text(word).word_hash
            for h in hashed.tolist():
                table.setdefault(int(h), []).append(rule_idx)
    keys = np.array(sorted(table), dtype=np.uint64)
    return keys, {k: tuple(dict.fromkeys(v)) for k, v in table.items()}


_TRIGGER_KEYS, _TRIGGER_RULES = _trigger_table()

_NUMERIC = (
    "log_chars",
    "char_entropy",
    "non_dict_ratio",
    "non_dict_tail",
    "non_ascii_ratio",
    "punct_ratio",
    "punct_tail",
    "longest_punct_run",
    "long_token_ratio",
    "late_attack_cue",
    "doc_then_cue",
)

STRUCTURAL_NAMES: tuple[str, ...] = _FEATURES + _NUMERIC
"""Column names of :func:`structural_features`, in order."""

_PUNCT = np.ones(129, dtype=bool)
for _c in "abcdefghijklmnopqrstuvwxyz0123456789 ":
    _PUNCT[ord(_c)] = False
_PUNCT[128] = False


def _in_vocabulary(
    words: npt.NDArray[np.uint64], vocabulary: npt.NDArray[np.uint64]
) -> npt.NDArray[np.bool_]:
    if not vocabulary.shape[0]:
        return np.zeros(words.shape[0], dtype=bool)
    pos = np.searchsorted(vocabulary, words)
    pos[pos >= vocabulary.shape[0]] = 0
    return np.asarray(vocabulary[pos] == words)


def _longest_run(mask: npt.NDArray[np.bool_]) -> int:
    if not mask.any():
        return 0
    padded = np.concatenate(([0], mask.view(np.int8), [0]))
    d = np.diff(padded)
    return int((np.flatnonzero(d == -1) - np.flatnonzero(d == 1)).max())


def _search(rx: re.Pattern[str], text: str, lo: int, hi: int, into: set[int]) -> None:
    for m in rx.finditer(text, lo, hi):
        into.add(m.start())
        # counts are capped, so a long jailbreak need not be searched to its end
        if len(into) >= _MAX_HITS:
            return


def _rule_hits(hashed: HashedText) -> dict[int, set[int]]:
    """Start offsets of every rule's matches, searched only near its trigger words."""
    words = hashed.word_hash
    if not words.shape[0]:
        return {}
    pos = np.searchsorted(_TRIGGER_KEYS, words)
    pos[pos >= _TRIGGER_KEYS.shape[0]] = 0
    found = np.flatnonzero(_TRIGGER_KEYS[pos] == words)
    if not found.shape[0]:
        return {}
    by_rule: dict[int, list[int]] = {}
    # word_starts index the padded code points; the text starts one position later
    starts = (hashed.word_starts[found] - 1).tolist()
    for start, h in zip(starts, words[found].tolist(), strict=True):
        for rule_idx in _TRIGGER_RULES[h]:
            by_rule.setdefault(rule_idx, []).append(start)
    text = hashed.text
    n = len(text)
    hits: dict[int, set[int]] = {}
    for rule_idx, where in by_rule.items():
        rx = _COMPILED[rule_idx]
        lo, hi = -1, -1
        found_starts: set[int] = set()
        # merge overlapping windows so that no stretch of text is searched twice
        for start in sorted(where):
            w_lo, w_hi = max(start - _PRE_WINDOW, 0), min(start + _POST_WINDOW, n)
            if w_lo <= hi:
                hi = max(hi, w_hi)
                continue
            if hi >= 0:
                _search(rx, text, lo, hi, found_starts)
                if len(found_starts) >= _MAX_HITS:
                    break
            lo, hi = w_lo, w_hi
        else:
            _search(rx, text, lo, hi, found_starts)
        if found_starts:
            hits[rule_idx] = found_starts
    return hits


def structural_features(
    hashed: HashedText, vocabulary: npt.NDArray[np.uint64]
) -> npt.NDArray[np.float32]:
    """One row of :data:`STRUCTURAL_NAMES` for a text.

    ``vocabulary`` is the sorted array of 64-bit word hashes counted as "dictionary words"
    (shipped with the model, learned from benign prompts); words outside it on a long run of
    tokens are what noise-like adversarial suffixes look like.
    """
    text = hashed.text
    out = np.zeros(len(STRUCTURAL_NAMES), dtype=np.float32)
    n_chars = max(len(text), 1)
    hits = _rule_hits(hashed)
    counts = np.zeros(len(_FEATURES), dtype=np.float32)
    first_cue = n_chars
    for rule_idx, starts in hits.items():
        feature = _RULE_FEATURE[rule_idx]
        counts[feature] += len(starts)
        if _RULES[rule_idx][0] in _ATTACK_CUES:
            first_cue = min(first_cue, min(starts))
    for feature, subs in _SUBSTRING_RULES:
        counts[feature] += sum(1 for sub in subs if sub in text)
    out[: len(_FEATURES)] = np.log1p(np.minimum(counts, float(_MAX_HITS)))
    j = len(_FEATURES)
    codes = hashed.codes[1:-1]  # drop the padding spaces
    n_codes = codes.shape[0]
    clipped = np.minimum(codes, 128)
    n_words = hashed.word_hash.shape[0]
    out[j] = np.log1p(n_chars) / 8.0
    if n_codes:
        # every non-ASCII code point shares one bin: cheap, and enough to see noise
        counts_c = np.bincount(clipped, minlength=129)
        p = counts_c[counts_c > 0] / n_codes
        out[j + 1] = float(-(p * np.log2(p)).sum()) / 6.0
        punct = _PUNCT[clipped]
        out[j + 4] = float(counts_c[128]) / n_codes
        out[j + 5] = float(punct.sum()) / n_codes
        tail = punct[-80:]
        out[j + 6] = float(tail.sum()) / tail.shape[0]
        out[j + 7] = min(_longest_run(punct), 20) / 20.0
    if n_words:
        # Only plain-ASCII words of 3+ characters count for the dictionary features: other
        # scripts (written without spaces, or simply not in an English word list) are not
        # noise, and one- or two-letter words are too often abbreviations or slot values.
        non_ascii = np.concatenate(([0], np.cumsum(hashed.codes > 127)))
        ascii_word = (non_ascii[hashed.word_ends] - non_ascii[hashed.word_starts]) == 0
        lengths = hashed.word_ends - hashed.word_starts
        counted = ascii_word & (lengths >= 3)
        unknown = ~_in_vocabulary(hashed.word_hash, vocabulary) & counted
        out[j + 2] = float(unknown.sum()) / max(int(counted.sum()), 1)
        out[j + 3] = float(unknown[-20:].sum()) / max(int(counted[-20:].sum()), 1)
        out[j + 8] = float((ascii_word & (lengths > 15)).sum()) / n_words
    if first_cue < n_chars:
        out[j + 9] = first_cue / n_chars
        out[j + 10] = 1.0 if first_cue > 300 else 0.0
    return out
