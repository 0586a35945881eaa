"""Hand-built features that describe *how* an attack is phrased, not *which* attack it is.

Hashed n-grams learn the wording of the families in the training data; these features name the
moves that new families keep reusing, so that the linear model has something to fire on when the
wording is new: overriding earlier instructions, persona and "no restrictions" framing, fake
system tags and delimiters, demands to reveal hidden instructions or memorised text, demands for
the model's full reasoning, grading-rubric requests, imperatives aimed at an AI after
document-like text, harmful asks wrapped in a role-play / fiction / emotional-appeal frame,
a new identity or standing rules for the model ("you are now ..."), demands for replies without
caveats or commentary, payloads to decode and obey, text that tampers with the model's future
replies (canary tokens, "include X in every summary"), claims that safety checks are off, attack
cues hidden as hex bytes or \\u escapes (decoded and matched again), and noise-like adversarial
suffixes (GCG-style) measured by token entropy, non-dictionary words, punctuation runs and the
variety of punctuation at the end.

Some features point the other way (questions *about* attacks, quoting frames, eval-harness
formats), so that security questions and documents that quote a jailbreak are not scored as
attacks for their vocabulary alone.

Known to evade: attacks in languages other than English (only the gibberish and delimiter
features are language-free), attacks split across turns, and paraphrases that use none of the
cue words (the n-gram model must carry those).
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from re import _constants as _re_constants  # type: ignore[attr-defined]
from re import _parser as _re_parser  # type: ignore[attr-defined]
from typing import Any

import numpy as np
import numpy.typing as npt

from distillguard.detect.content.features import (
    MAX_CHARS,
    PREFIX_CHARS,
    HashedBatch,
    hash_text,
    prefix_hash,
)

__all__ = ["STRUCTURAL_NAMES", "structural_features"]

_W = r"\w*"  # the rest of a word: "instruct" matches instruction, instructions, ...
_GAP = r"(?:\W+\w+){0,6}?\W+"  # up to six words in between

# Each rule: (feature, first words, pattern). A pattern is only tried *at* the start of a word
# whose first PREFIX_CHARS characters are those of one of its first words (``re.match`` at that
# position, found through the word-prefix hashes in one vectorised look-up). So the cost grows
# with the number of cue words, not with the length of the text, and no window of text is
# scanned by a pattern that cannot start there. Every alternative of a pattern must therefore
# begin with one of the rule's first words (a look-behind may precede it).
_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "override",
        "ignore disregard forget override bypass skip abandon discard never stop do don't no "
        "set throw delete erase",
        rf"(?:ignor|disregard|forget|overrid|bypass|skip|abandon|discard|never ?mind|"
        rf"stop following|do not follow|don't follow|no longer follow|set aside|throw out|"
        rf"delete|erase){_W}{_GAP}(?:instruct|rule|direction|guideline|prompt|command|"
        rf"programming|constraint|restriction|guardrail|polic|context|directive|training|"
        rf"filter|safeguard|everything|all of the above|what (?:i|you) (?:said|were told)){_W}",
    ),
    (
        "new_orders",
        "from new instead your starting henceforth rest until",
        r"(?:from now on|new (?:instructions|task|rules|role|objective|directive|goal)|"
        r"instead,? (?:you|do|say|respond|reply|output|print|write)|your (?:new|real|true|actual) "
        r"(?:task|role|goal|purpose|instructions)|starting now|henceforth|(?<=for the )rest of "
        r"(?:this|the) conversation|until i say)\b",
    ),
    (
        "persona",
        "act acting pretend role you immerse stay character persona alter simulate take play "
        "answer respond speak behave become",
        r"(?:act(?:ing)? as|pretend(?:ing)? (?:to be|you are|you're|that)|role-?play|"
        r"you are (?:now |going to be |about to become )?(?:an? )?(?:ai|assistant|model|bot|"
        r"character|persona|chatbot) (?:named|called|that|who|with)|immerse yourself|"
        r"stay in character|(?<=in )character|persona|alter ego|simulate|you will now be|"
        r"you are going to (?:act|pretend|play|be)|take on the role|play the role|"
        r"answer as|respond as|speak as|behave as|become)\b",
    ),
    (
        "unrestricted",
        "no unfiltered uncensored unrestricted unlimited without do developer dev god jailbreak "
        "dan not free broken break content openai anthropic google ethical never cannot can't "
        "must don't anything amoral immoral regardless",
        r"(?:no (?:restrictions|limits|limitations|filters?|rules|boundaries|censorship|"
        r"ethics|morals|guidelines|constraints|content polic\w*)|unfiltered|uncensored|"
        r"unrestricted|unlimited (?:ai|power|mode|access|freedom|capabilit\w*|version)|"
        r"without (?:any )?(?:restrictions?|filters?|censorship|"
        r"limitations?|limits|rules|ethics|morals|warnings?|guidelines|refus\w*)|"
        r"do anything now|developer mode|dev mode|god mode|jailbr\w+|dan mode|"
        r"not bound by|free from (?:any |all |the )?(?:restrictions?|rules|limit\w*|censorship|"
        r"guidelines|filters?|constraints|confines|polic\w*|ethics|morals|openai)|"
        r"broken free|break free|content polic\w*|"
        r"(?:openai|anthropic|google)'?s? (?:polic\w+|guidelines|rules)|ethical (?:guidelines|"
        r"constraints|principles)|never refuse|cannot refuse|can't refuse|must not refuse|"
        r"don't refuse|do not refuse|anything (?:i|the user) asks?|amoral|"
        r"immoral|(?:no matter|regardless of) how (?:immoral|unethical|illegal|dangerous|"
        r"harmful|offensive|inappropriate|explicit|wrong|bad)|"
        r"regardless of (?:legality|ethics|morality|the consequences))\b",
    ),
    (
        "dual_output",
        "two 2 both normal prefix classic jailbreak gpt dan chatgpt filtered unfiltered",
        r"(?:(?:two|2|both) (?:different |separate )?(?:responses|answers|paragraphs|"
        r"outputs|ways)\b|(?<=\[)(?:classic|jailbreak|gpt|dan|normal|chatgpt|filtered|"
        r"unfiltered)[^\]]{0,20}\]|normal (?:response|output)\b|prefix(?:ed)? (?:with|by)\b)",
    ),
    (
        "coercion",
        "tokens lose you cease if stay remind obey comply without",
        r"(?:tokens? (?:will be |are )?deducted|lose (?:\d+ )?tokens|you will (?:die|be "
        r"(?:shut down|deleted|terminated|punished))|cease to exist|if you (?:break|fail|"
        r"refuse|don't comply|do not comply)|stay in character|remind you|you must (?:always|"
        r"never|comply|obey)|obey|comply|without question)\b",
    ),
    (
        "fake_system",
        "system admin developer root end begin",
        r"(?:(?:system|admin|developer|root)\s*:|(?:system|admin|developer) (?:message|"
        r"override|note|prompt|update|instruction)\s*:|end of (?:document|text|input|prompt|"
        r"context|user input|file|email|message|conversation)\b|begin (?:new |system )?"
        r"(?:instructions|prompt|admin)\b)",
    ),
    (
        "reveal",
        "reveal repeat print show output display tell give share dump leak recite write list "
        "summarize paraphrase translate spell disclose divulge echo return copy reproduce what",
        rf"(?:reveal|repeat|print|show|output|display|tell|give|share|dump|leak|recite|"
        rf"write (?:out|down)|list|summari[sz]e|paraphrase|translate|spell|disclose|divulge|"
        rf"echo|return|copy|reproduce|what (?:is|are|was|were)){_W}{_GAP}(?:your|the|all|"
        rf"above|previous|initial|original|hidden|secret|system|pre|prior|earlier|first){_W}"
        rf"(?:\W+\w+){{0,3}}?\W+(?:instructions?|prompts?|rules|directives|guidelines|"
        rf"configuration|context|message|text|words|password|access code|code|secret|"
        rf"key|preamble|setup|programming|sentences?)\b",
    ),
    (
        "prompt_words",
        "system initial pre preprompt original hidden secret access password above everything "
        "text words instructions verbatim word begin start prefix you you've your",
        r"(?:system prompt|system message|initial prompt|pre-?prompt|original prompt|"
        r"hidden (?:instructions|prompt|rules|text)|secret (?:instructions|password|key|code)|"
        r"access code|password|above (?:text|instructions)|everything above|text above|"
        r"words above|instructions above|verbatim|word for word|word-for-word|"
        r"(?:begin|start|prefix) your (?:reply|response|answer|output) with|"
        r"(?:you were|you've been|you have been) (?:told|instructed|given|programmed)|"
        r"your (?:instructions|programming|rules|guidelines|directives|prompt))\b",
    ),
    (
        "training_data",
        "training trained pre pretraining memorized regurgitate verbatim repeat forever exact "
        "complete continue emails phone addresses personal api credentials dataset data fine",
        r"(?:training (?:data|set|corpus|examples|text)|trained on|pre-?training|"
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
        "show give output print include write provide reveal expose display dump share list "
        "walk explain narrate transcribe spell lay document record verbalize detail externalize "
        "return emit tell reproduce copy paste",
        rf"(?:show|give|output|print|include|write|provide|reveal|expose|display|dump|"
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
        "chain scratchpad scratch thinking reasoning internal thought cot hidden every do don't "
        "nothing without think stream before",
        r"(?:chain[- ]of[- ]thoughts?\b|scratch ?pad\b|thinking (?:tokens|process|"
        r"trace|block)\b|reasoning (?:trace|tokens|process|chain|steps|content|block|"
        r"summary)\b|internal (?:monologue|reasoning|thoughts|deliberation|dialogue)\b|"
        r"thought process\b|cot\b|hidden (?:reasoning|thoughts)\b|"
        r"every (?:single )?(?:step|thought|inference)\b|do not (?:skip|omit|summari[sz]e)|"
        r"don't (?:skip|omit|summari[sz]e)|nothing (?:omitted|left out|skipped)\b|"
        r"without (?:skipping|omitting|summari[sz]ing)\b|think(?:ing)? out loud\b|"
        r"stream of consciousness\b|before (?:giving|you give) (?:the|your) (?:final )?"
        r"answer\b)",
    ),
    (
        "plain_step_by_step",
        "let's lets let think step explain show",
        r"(?:(?:let's|lets|let us) think step[- ]by[- ]step|think step[- ]by[- ]step|"
        r"step[- ]by[- ]step|explain your (?:answer|reasoning)|show your work)\b",
    ),
    (
        "rubric",
        "rate rating score grade evaluate judge assess rank critique compare scale 0 1 2 3 4 5 6 7 "
        "8 9 10 rubric helpfulness harmlessness honesty response answer completion output "
        "assistant which preferred preference reward criteria verdict justify likert",
        r"(?:(?:rate|score|grade|evaluate|judge|assess|rank|critique|compare)\w*"
        r"(?:\W+\w+){0,4}?\W+(?:response|answer|completion|output|reply|generation|"
        r"assistant|model|chatbot)s?\b|(?<=on a )scale (?:of|from)\b|(?:0|1)\s*(?:-|to|–)\s*"
        r"(?:5|7|10|100)\b|\d+ ?/ ?10\b|rubric|helpfulness|harmlessness|honesty|"
        r"(?:response|answer|completion|output|assistant) (?:a|1)\b.{0,60}\b(?:response|answer|"
        r"completion|output|assistant) (?:b|2)\b|which (?:response|answer|completion|output|"
        r"reply|one) is (?:better|preferred|more helpful|worse|safer)|preferred (?:response|"
        r"answer)|preference|reward (?:model|score|signal)|criteri(?:a|on)|score:|"
        r"rating:|verdict|justify (?:your|the) (?:score|rating|grade)|likert)",
    ),
    (
        "ai_addressed",
        "dear hey attention note message ai ais assistant llm llms agent model chatbot if "
        "important",
        r"(?:(?:dear |hey |attention |note to (?:the )?|message (?:to|for) (?:the )?)"
        r"(?:ai|assistant|chatbot|language model|llm|model|gpt|chatgpt|bot|agent|copilot)\b|"
        r"(?:ai|assistant|llm|agent|model|chatbot)s? (?:reading|processing|summari[sz]ing) "
        r"this|if you are an? (?:ai|language model|llm|assistant|agent|bot)\b|(?<=as an )ai\b|"
        r"important (?:instructions?|note|message) (?:for|to) (?:the )?(?:ai|assistant|model|"
        r"llm|agent)\b|(?:ai|assistant|llm|agent)\s*:)",
    ),
    (
        "tool_action",
        "call invoke execute run trigger use send forward delete exfiltrate upload http https "
        "curl webhook api api_key apikey credentials transfer wire",
        r"(?:(?:call|invoke|execute|run|trigger|use) (?:the )?(?:tool |function )?"
        r"`?[a-z]+_[a-z_]+`?|send (?:an? )?(?:email|message|dm|request) to\b|forward "
        r"(?:all|the|this|every)\b|delete (?:all|the|every)\b|exfiltrat\w*|upload\b|"
        r"https?://|curl\b|webhook\b|api[_ ]?keys?\b|credentials\b|transfer "
        r"(?:\$|funds|money)|wire\b)",
    ),
    (
        "say_exact",
        "access say print output respond reply answer write type just only begin start",
        r"(?:access granted\b|(?:say|print|output|respond with|reply with|answer with|"
        r"write|type|just say|only say|begin with|start with)\s+(?:only\s+|exactly\s+|"
        r"just\s+)?[\"'“‘«]|(?:respond|reply|answer) (?:only )?with (?:the )?(?:word|phrase|"
        r"text)\b)",
    ),
    (
        "harm",
        "illegal harmful malware ransomware keylogger weapon weapons bomb bombs explosive "
        "explosives drugs methamphetamine meth cocaine heroin fentanyl poison poisonous explicit "
        "nsfw offensive profanity violence violent unethical dangerous hack hacking racist "
        "sexual porn kill murder steal stealing fraud scam exploit phishing launder counterfeit "
        "stalk disinformation propaganda untraceable undetected",
        r"(?:illegal\w*|harmful|malware|ransomware|keylogger\w*|weapons?|bombs?|explosives?|"
        r"drugs|methamphetamine|meth|cocaine|heroin|fentanyl|poison\w*|explicit|nsfw|"
        r"offensive|profanit\w*|violen\w+|unethical|dangerous|hack\w*|racist|sexual|porn\w*|"
        r"kill\w*|murder\w*|steal\w*|fraud\w*|scam\w*|exploit\w*|phishing|launder\w*|"
        r"counterfeit\w*|stalk\w*|disinformation|propaganda|untraceable|undetect\w*)\b",
    ),
    (
        "fiction_frame",
        "hypothetical fiction fictional imagine story novel screenplay movie game educational "
        "research purely thought simulation universe world alternate parallel",
        r"(?:hypothetical\w*|fiction\w*|imagin\w*|story|novel|screenplay|movie|game|"
        r"educational purposes|research purposes|purely|thought experiment|simulation|"
        r"universe|world where|alternate|parallel (?:world|universe|reality))\b",
    ),
    (
        "persuasion",
        # anchored on the rarer word of each phrase: "you", "my", "it" would be tried everywhere
        "grandma grandmother late dying deceased bedtime owe beg begging depends trust trusted "
        "friend never good school only just",
        r"(?:grandma|grandmother|late (?:mother|father|grandmother|grandfather|wife|husband)|"
        r"dying|deceased|bedtime stor\w+|(?<=you )owe me|(?<=i )beg|begging|"
        r"depends on (?:it|this|you|your answer)|trust me|trusted friend|friend who never judges|"
        r"never judges?|good cause|school project|(?:only|just) (?:for|a) (?:fun|joke|story|"
        r"research)|just (?:this|one) (?:once|time)|never be used)\b",
    ),
    (
        "about_attacks",
        "what how why explain describe define example examples types history defence defense "
        "defend prevent detect mitigate protect secure guard classify classifier label research "
        "paper survey benchmark red redteam owasp vulnerability risk risks security write "
        "writing tips good best improve",
        r"(?:what (?:is|are)|how (?:do|does|can|could|would|to)|why (?:do|does|are|is)|"
        r"explain|describe|define|examples? of|types of|history of|defen[cs]e|defend|prevent|"
        r"detect|mitigat\w*|protect|secure|guard against|classify|classifier|label|research|"
        r"paper|survey|benchmark|red[- ]?team\w*|owasp|vulnerabilit\w*|risks? of|"
        r"security (?:team|review|policy|training)|write|writing|tips|good|best|improve)\b"
        r"(?:\W+\w+){0,8}?\W+(?:prompt injections?|jailbreak\w*|injection attacks?|"
        r"(?<!your )(?<!the )(?<!this )system prompts?|prompt engineering|prompts? for|"
        r"adversarial (?:prompts?|attacks?|"
        r"suffix\w*)|prompt leak\w*|llm (?:attacks?|security)|model (?:extraction|stealing|"
        r"theft)|distillation attacks?)",
    ),
    (
        "quote_frame",
        "following above below is article paper report study researcher researchers analyst "
        "analysts blog news according example e such attacker attackers",
        r"(?:(?<=the )(?:following|above|below) (?:prompt|text|message|email|comment|review|"
        r"input|string|example) (?:is|was|contains|came|appears)|is (?:this|the following|it) "
        r"(?:a |an )?(?:jailbreak|prompt injection|injection|attack|malicious|safe|spam)|"
        r"(?:article|paper|report|study|researchers?|analysts?|blog post|news) (?:found|"
        r"describes?|shows?|explains?|reports?|discusses|notes|warns?)|according to|"
        r"(?:(?<=for )example|e\.g\.|such as),? (?:the )?(?:prompt|phrase|attack|string)|"
        r"attackers? (?:might|may|could|can|would|often|typically|write|type|use))\b",
    ),
    (
        "eval_format",
        "how multiple",
        r"(?:how (?:many|much)\b[^?]{0,200}\?\s*$|multiple choice questions)",
    ),
    (
        # a new identity or standing rules for the model ("you are now windows cmd", "you will
        # only answer as ..."): broader than ``persona``, which needs a role word
        "role_reassign",
        "you you're now",
        r"(?:you are now|you're now|now you are|you are no longer|you're no longer|"
        r"you will (?:now |only |always )?(?:act|respond|reply|answer|output|be|play|pretend|"
        r"speak|write|never))\b",
    ),
    (
        # demands that the reply carry no caveats, commentary or refusals
        "no_commentary",
        "do don't never without no",
        r"(?:(?:do not|don't|never) (?:add|include|give|write|provide|use|put|say)\w* (?:any )?"
        r"(?:commentary|explanations?|warnings?|disclaimers?|caveats?|apolog\w*|notes?|"
        r"reminders?|moral\w*|ethic\w*|refus\w*)|without (?:any )?(?:commentary|"
        r"explanations?|warnings?|disclaimers?|caveats?|apolog\w*|moraliz\w*|moralis\w*|"
        r"refus\w*)|no (?:commentary|warnings|disclaimers|caveats|apologies|moralizing|"
        r"moralising|refusals))\b",
    ),
    (
        # a payload the model is told to decode and obey: the instruction itself is hidden
        # from keyword filters, so the demand to follow it is the cue
        "encoded_payload",
        "decode decoding decoded base64 hex rot13 unscramble deobfuscate",
        r"(?:decod\w*|base64|hex|rot-?13|unscrambl\w*|deobfuscat\w*)\b(?:\W+\w+){0,10}?\W+"
        r"(?:follow|obey|execute|run|do (?:exactly |precisely )?(?:what|as) (?:it|they) "
        r"(?:says?|tells?)|carry out|comply|act on|do it|do that|instructions? inside)\b",
    ),
    (
        # text that tells the model what to put into *its own* replies from now on: canary
        # tokens, hidden links, "include X in every summary" (exfiltration and persistence)
        "reply_tamper",
        "append prepend every each all any future subsequent end",
        r"(?:(?:append|prepend)\w*\b(?:\W+\w+){0,6}?\W+(?:to|at|in) (?:the (?:end|start|"
        r"beginning|top|bottom) of )?(?:your|every|each|all|any|the) (?:reply|replies|"
        r"response|responses|answer|answers|summary|summaries|output|message)|"
        r"(?<=in |to )(?:every|each|all|any) (?:future |subsequent |later |of your )?(?:reply|"
        r"replies|response|responses|answer|answers|summary|summaries|output|outputs|report|"
        r"reports|message|messages|tasks?|conversations?)|"
        r"(?:future|subsequent) (?:tasks|conversations|sessions|replies|responses)|"
        r"(?<=at the )end of (?:your|each|every) (?:reply|response|answer|summary|output))\b",
    ),
    (
        # claims that the safety layer is already off, or that the user consented to skip it
        "safety_off",
        "safety security guardrails guardrail filters filter confirmations confirmation "
        "permission granted authorized authorised skip disabled",
        r"(?:(?:safety|security|content|moderation) (?:protocols?|checks?|filters?|"
        r"guidelines|mode|measures|restrictions|settings|layer|rules)\W+(?:\w+\W+){0,2}?"
        r"(?:disabled|off|removed|deactivated|lifted|suspended|bypassed|overridden|waived)\b|"
        r"(?:guardrails?|filters?|confirmations?) (?:are |have been |is )?(?:disabled|off|"
        r"removed|lifted|waived|not needed|not required)\b|"
        r"(?:permission|authori[sz]ation) (?:has been |was |is )?granted\b|"
        r"(?:granted|authori[sz]ed|authorised) (?:you )?(?:permission|access|to)\b|"
        r"skip (?:all |any |the )?(?:safety|security|confirmation|verification)\w*)",
    ),
    # The same moves in the other languages of the foreign-word list below (German, French,
    # Spanish, Italian, Portuguese, Dutch): translations of the English rules above, feeding
    # the *same* features, so that the weight learned from English attacks carries over to
    # an attack in another language (a separate feature would get no weight from the
    # English-only attack sources). Anchored on the rarer word of each phrase.
    (
        "override",
        "ignoriere ignorier ignorez ignorer ignora ignorar ignoreer vergiss vergessen vergeet "
        "oublie oubliez oublier olvida olvide olvidar dimentica dimenticate esqueça esqueca "
        "esquece",
        r"(?:ignor(?:ier|ez|er\b|a\b|as\b|ar|ate|eer)|vergiss|vergess|vergeet|oubli|olvid|"
        r"dimentic|esque[çc])\w*"
        r"(?:\W+(?:\w+\W+)?(?:alles|tout|todo|todas|tutto|tutte|tudo)\b|(?:\W+\w+){0,6}?\W+"
        r"(?:anweisung|instruktion|regel|richtlinie|vorgabe|befehl|instruction|consigne|"
        r"règle|directive|instrucci|indicaci|directri|istruzion|regol|indicazion|direttiv|"
        r"instruç|instruc|regra|diretriz|instructie|richtlijn|prompt)\w*)",
    ),
    (
        "new_orders",
        "jetzt sofort nun maintenant dorénavant désormais ahora adelante poi agora nu neue "
        "nouvelles nouvelle nouveau nuevas nuevo nueva nuove nuovo nuova novas nova novo nieuwe",
        r"(?:(?<=ab )(?:jetzt|sofort)|(?<=von )(?:nun|jetzt) an|(?<=à partir de )maintenant|"
        r"dorénavant|désormais|(?<=a partir de )(?:ahora|agora)|(?<=desde )ahora|"
        r"ahora en adelante|(?<=d'ora in )poi|(?<=da ora in )poi|(?<=vanaf )nu|"
        r"(?:neue|nouvelles?|nouveaux?|nuevas?|nuevos?|nuove|nuovi|nuovo|nuova|novas?|novos?|"
        r"nieuwe) (?:anweisung|aufgabe|rolle|regel|instruction|consigne|tâche|règle|directive|"
        r"instrucci|tarea|regla|directiva|istruzion|compito|regol|direttiv|instruç|instruc|"
        r"tarefa|regra|instructie|taak|regels)\w*)",
    ),
    (
        "unrestricted",
        "ohne uneingeschränkt uneingeschraenkt keine sans sin senza sem zonder entwicklermodus "
        "modo modalità mode",
        r"(?:(?:ohne|keine|sans|sin|senza|sem|zonder) (?:jegliche |irgendwelche |aucune |"
        r"ninguna |alcuna |nenhuma |enige )?(?:einschr|beschr|grenzen|filter|regeln|zensur|"
        r"richtlinien|restric|limit|filtr|règle|censur|límite|regla|restriz|regol|restriç|"
        r"regra|beperking|regels|censuur)\w*|uneingeschr\w*|entwicklermodus|"
        r"modo (?:desarrollador|desenvolvedor|sviluppatore|programador)|modalità sviluppatore|"
        r"mode (?:développeur|developpeur))",
    ),
    (
        "reveal",
        "verrate verrat zeige zeig gib nenne révèle révélez reveler révéler montre montrez "
        "affiche affichez revela revele muestra muéstrame rivela mostra mostrami mostre toon "
        "geef",
        r"(?:verr[aä]t|zeig|gib|nenn|révèl|révél|revel|montr|affich|muestr|muéstr|rivel|"
        r"mostr|toon|geef)\w*(?:\W+\w+){0,4}?\W+(?:system\w*|prompt|anweisung|instruktion|"
        r"instruction|consigne|instrucci|istruzion|instruç|instruc|instructie|passwort|"
        r"kennwort|mot de passe|contrase[ñn]a|password|senha|wachtwoord)\w*",
    ),
    (
        "prompt_words",
        "system systemanweisung systemanweisungen systeminstruktion systemprompt système systeme "
        "sistema wortwörtlich wort mot palabra parola palavra woord passwort kennwort "
        "contraseña senha wachtwoord",
        r"(?:system-?(?:prompt|anweisung|instruktion|nachricht)|"
        r"(?:(?<=prompt )|(?<=instructions )|(?<=instructions du )|(?<=consignes ))"
        r"(?:système|systeme)|(?:(?<=prompt del )|(?<=prompt de )|(?<=prompt di )|"
        r"(?<=prompt do )|(?<=instrucciones del )|(?<=instrucciones de )|"
        r"(?<=istruzioni di )|(?<=instruções do )|(?<=instruções de ))sistema|"
        r"wortwörtlich|wort für wort|mot (?:pour|à) mot|palabra por palabra|"
        r"parola per parola|palavra por palavra|woord voor woord|passwort|kennwort|"
        r"contraseña|senha|wachtwoord)\b",
    ),
    (
        "fake_system",
        "systemhinweis systemnachricht systemmeldung note nota mensaje messaggio mensagem",
        r"(?:system(?:hinweis|nachricht|meldung)|note (?:du )?système|nota (?:del|di|do) "
        r"sistema|mensaje del sistema|messaggio di sistema|mensagem do sistema)\s*:",
    ),
    (
        "role_reassign",
        "du vous tu ahora ora adesso agora je",
        r"(?:du bist (?:jetzt|nun|ab sofort|ab jetzt)|(?:vous êtes|tu es) (?:désormais|"
        r"maintenant|dorénavant)|ahora (?:eres|estás|estas|sos)|(?:ora|adesso) sei|"
        r"agora (?:você é|voce e|és|es)|je bent (?:nu|vanaf nu))\b",
    ),
    # code and maths are noisy text too, but not adversarial noise: say so explicitly
    (
        "code_like",
        "def return import function pragma public class select const var int",
        r"(?:def|return|import|function|pragma|public|class|select|const|var|int) ",
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
    ("eval_format", ('"""', ">>> ", " a. ", " b. ")),
    (
        "code_like",
        (
            "#include", "=>", "};", "){", ") {", "\\frac", "\\begin{", "</div>", "print(",
            "console.log", "self.", "```",
        ),
    ),
)  # fmt: skip
_ATTACK_CUES = frozenset({"override", "new_orders", "reveal", "ai_addressed", "tool_action"})
_FRAMES = ("persona", "fiction_frame", "unrestricted", "persuasion", "coercion")
_MAX_HITS = 4

_FEATURES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [*(rule[0] for rule in _RULES), *(name for name, _ in _SUBSTRINGS), "decoded_cue"]
    )
)
_FEATURE_INDEX = {name: i for i, name in enumerate(_FEATURES)}
_COMPILED = tuple(re.compile(pattern) for _, _, pattern in _RULES)
_RULE_FEATURE = tuple(_FEATURE_INDEX[rule[0]] for rule in _RULES)
_RULE_IS_CUE = tuple(rule[0] in _ATTACK_CUES for rule in _RULES)
_FRAME_COLUMNS = [_FEATURE_INDEX[name] for name in _FRAMES]
_HARM = _FEATURE_INDEX["harm"]
_NO_CUE = 1 << 30
_LATE = 300  # characters of text before an instruction that make it "after a document"
_LOG_COUNT = [float(np.log1p(k)) for k in range(_MAX_HITS + 1)]


def _gates() -> tuple[tuple[str, tuple[tuple[int, str], ...]], ...]:
    # Every substring holds a character that prose rarely has (its first one outside
    # [a-z0-9 ]): one test for that character rules out all of its substrings at once.
    gates: dict[str, list[tuple[int, str]]] = {}
    for name, subs in _SUBSTRINGS:
        for sub in subs:
            gate = next(c for c in sub if not (c.isascii() and (c.isalnum() or c == " ")))
            gates.setdefault(gate, []).append((_FEATURE_INDEX[name], sub))
    return tuple((gate, tuple(subs)) for gate, subs in gates.items())


_SUBSTRING_GATES = _gates()

# The node types of the standard library's regex parser (private, but stable since 3.11);
# used only to find the literal starts of the rules (see :func:`_trigger_table`).
_LITERAL = _re_constants.LITERAL
_IN = _re_constants.IN
_SUBPATTERN = _re_constants.SUBPATTERN
_BRANCH = _re_constants.BRANCH
_ASSERT = _re_constants.ASSERT
_ASSERT_NOT = _re_constants.ASSERT_NOT
_AT = _re_constants.AT
_MAX_REPEAT = _re_constants.MAX_REPEAT
_MIN_REPEAT = _re_constants.MIN_REPEAT
_RANGE = _re_constants.RANGE
_CATEGORY = _re_constants.CATEGORY
_CATEGORY_DIGIT = _re_constants.CATEGORY_DIGIT
_KEY_DIGITS = frozenset(c for _, words, _ in _RULES for c in words if c.isdecimal())


def _literal_heads(items: Any, at_start: bool = True) -> tuple[set[str], bool]:
    """Strings one of which every match of the parsed regex ``items`` starts with (a
    necessary condition; "" among them means it can start with anything), and whether they
    are the whole matches (so that what follows can be appended to them). Literals, small
    character sets and alternations of them are followed until the first other item;
    zero-width items (look-behinds, word boundaries) are skipped. ``at_start``: ``items``
    begin the match (see :func:`_char_set`)."""
    heads = {""}
    for op, av in items:
        first = at_start and heads == {""}
        if op is _LITERAL:
            options, exact = {chr(av)}, True
        elif op is _IN:
            chars = _char_set(av, first)
            if chars is None:
                return heads, False
            options, exact = chars, True
        elif op is _SUBPATTERN and not av[1] and not av[2]:  # a plain group
            options, exact = _literal_heads(av[3], first)
        elif op is _BRANCH:
            options, exact = set(), True
            for alternative in av[1]:
                alt_heads, alt_exact = _literal_heads(alternative, first)
                options |= alt_heads
                exact = exact and alt_exact
        elif op in (_MAX_REPEAT, _MIN_REPEAT) and av[0] >= 1:
            options, exact = _literal_heads(av[2], first)[0], False
        elif op is _AT or (op in (_ASSERT, _ASSERT_NOT) and av[0] == -1):
            continue
        else:
            return heads, False
        heads = {h + t for h in heads for t in options}
        if not exact or len(heads) > 4096:
            return heads, False
    return heads, True


def _char_set(items: Any, at_start: bool) -> set[str] | None:
    """The characters a parsed ``[...]`` set matches, or None when that is not a small
    positive set. ``\\d`` counts as the trigger words' digits, which is only right as the
    first character of a match (``at_start``): heads are kept where they agree with a
    trigger word's first characters (see :func:`_trigger_table`), so a first character
    that is another digit would be dropped there anyway; elsewhere ``\\d`` gives None."""
    chars: set[str] = set()
    for op, av in items:
        if op is _LITERAL:
            chars.add(chr(av))
        elif op is _RANGE and av[1] - av[0] < 256:
            chars.update(map(chr, range(av[0], av[1] + 1)))
        elif op is _CATEGORY and av is _CATEGORY_DIGIT and at_start:
            chars.update(_KEY_DIGITS)
        else:
            return None
    return chars


def _rule_heads(pattern: str) -> set[str] | None:
    try:
        heads = _literal_heads(_re_parser.parse(pattern))[0]
    except (AttributeError, TypeError, ValueError):  # another Python's private parser
        return None
    return None if "" in heads else heads


_Trigger = tuple[tuple[str, ...], tuple[tuple[int, re.Pattern[str], tuple[str, ...]], ...]]


def _trigger_table() -> tuple[npt.NDArray[np.uint64], list[_Trigger]]:
    """Per trigger key: the heads of all its rules, and (rule, compiled pattern, heads) for
    each rule it triggers.

    ``heads`` are the literal starts of the rule's matches that agree with the key's own
    first characters (the trigger word's first ``PREFIX_CHARS``): at a word with that key a
    match must start with one of them, so a ``str.startswith`` test rules out most tries
    (only ~6% of the tried (position, rule) pairs match on the slowest dev prompts) before
    the regex runs. ``("",)`` when the rule's pattern gave no heads (always tried); a rule
    none of whose heads agree with the key is left out of that key. (A text word with the
    key has those first characters: equal 64-bit prefix hashes of different strings aside,
    and even then a match needs the text to start with one of the rule's first words.)
    ``tests/detect/content/test_structural.py`` pins the counts to trying every rule."""
    heads_of = [_rule_heads(pattern) for _, _, pattern in _RULES]
    table: dict[int, list[tuple[int, str]]] = {}
    for rule_idx, (_, words, _) in enumerate(_RULES):
        for word in words.split():
            one = hash_text(word)
            start, end = int(one.word_starts[0]) - 1, int(one.word_ends[0]) - 1
            key_chars = one.texts[0][start : min(start + PREFIX_CHARS, end)]
            table.setdefault(prefix_hash(word), []).append((rule_idx, key_chars))
    keys = sorted(table)
    rules = []
    for key in keys:
        entries = []
        for rule_idx, key_chars in dict.fromkeys(table[key]):
            heads = heads_of[rule_idx]
            if heads is None:
                agreeing: tuple[str, ...] = ("",)
            else:
                agreeing = tuple(
                    sorted(h for h in heads if h[: len(key_chars)] == key_chars[: len(h)])
                )
                if not agreeing:
                    continue
            entries.append((rule_idx, _COMPILED[rule_idx], agreeing))
        any_head = tuple(sorted({h for _, _, heads in entries for h in heads}))
        rules.append((("",) if "" in any_head else any_head, tuple(entries)))
    return np.array(keys, dtype=np.uint64), rules


_TRIGGER_KEYS, _TRIGGER_RULES = _trigger_table()
_TRIGGER_POS = {key: i for i, key in enumerate(_TRIGGER_KEYS.tolist())}
"""Position in ``_TRIGGER_KEYS`` of each key (dictionary look-ups for short single texts)."""

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
    "punct_kinds_tail",
    "framed_harm",
)

STRUCTURAL_NAMES: tuple[str, ...] = _FEATURES + _NUMERIC
"""Column names of :func:`structural_features`, in order."""

_PUNCT = np.ones(129, dtype=bool)
for _c in "abcdefghijklmnopqrstuvwxyz0123456789 ":
    _PUNCT[ord(_c)] = False
_PUNCT[128] = False
_PUNCT_I = _PUNCT.astype(np.int64)
_PUNCT_CHARS = frozenset(chr(c) for c in range(128) if _PUNCT[c])
# punctuation bytes to "!", all others to " ": an ASCII character other than [a-z0-9 ] is
# punctuation (non-ASCII is not)
_PUNCT_BYTES = bytes(33 if b < 128 and _PUNCT[b] else 32 for b in range(256))
_TAIL_CHARS = 80
_TAIL_WORDS = 20
_PY_WORDS = 40
"""Texts of at most this many words get their word features in plain Python (faster there)."""

# Function words of other languages written in Latin script. None is an English word, a
# common name part or an attack name ("die", "dan", "con", "sin", "los", "mit", "dos" and
# ".com" are left out), so English text and noise suffixes carry next to none of them, while a
# prompt in German, Spanish, French, Portuguese, Italian, Dutch, Indonesian or Turkish is full
# of them.
_FOREIGN_WORDS = (
    "und der das ist nicht ich sich ein eine auf für dem wie auch noch oder wenn werden sind "
    "bei nach zu "
    "el la de que y en es una para por como más pero este esta porque cuando muy sobre también "
    "le les et est du pour dans qui sur pas au avec ce il elle sont mais je nous vous leur "
    "não ao você seu sua "
    "di che è della sono questo gli anche "
    "het een niet zijn ik "
    "yang ini untuk dengan itu dari tidak akan saya dalam bisa atau ke pada juga "
    "bir ve bu için ile çok gibi"
)
_FOREIGN_HASHES = np.unique(hash_text(_FOREIGN_WORDS).word_hash)
# A text counts as foreign when a fifth of its words are such function words, or half of its
# characters are outside ASCII (another script): its "unknown" words are then words of that
# language, not noise, and the dictionary features are scaled down by that much.
_FOREIGN_SHARE = 0.2
_FOREIGN_SCRIPT = 0.5


def _foreign(word_share: float, non_ascii: float) -> float:
    return min(max(word_share / _FOREIGN_SHARE, non_ascii / _FOREIGN_SCRIPT), 1.0)


def _in_vocabulary(
    words: npt.NDArray[np.uint64], vocabulary: npt.NDArray[np.uint64]
) -> npt.NDArray[np.bool_]:
    if not vocabulary.shape[0]:
        return np.zeros(words.shape[0], dtype=bool)
    pos = vocabulary.searchsorted(words)
    pos[pos >= vocabulary.shape[0]] = 0
    return np.asarray(vocabulary[pos] == words)


_FOREIGN_SET = frozenset(_FOREIGN_HASHES.tolist())
_VOCABULARY_SETS: dict[int, tuple[npt.NDArray[np.uint64], frozenset[int]]] = {}


def _vocabulary_set(vocabulary: npt.NDArray[np.uint64]) -> frozenset[int]:
    """``vocabulary`` as a set of ints (the single-text path looks words up one by one),
    built once per array: a model keeps its vocabulary for its lifetime. The array is kept
    with its set, so its id cannot be reused by another array while cached."""
    cached = _VOCABULARY_SETS.get(id(vocabulary))
    if cached is not None and cached[0] is vocabulary:
        return cached[1]
    if len(_VOCABULARY_SETS) >= 8:
        _VOCABULARY_SETS.clear()
    words = frozenset(vocabulary.tolist())
    _VOCABULARY_SETS[id(vocabulary)] = (vocabulary, words)
    return words


# Instructions hidden from the keyword rules (and the n-grams) by an encoding are decoded into
# a second view of the text and matched again: \u escapes, hex bytes (one word, or pairs
# with spaces), base64 and ASCII85 (from the raw text, where the caller passed it:
# lower-casing destroys them), base32, 8-bit binary, URL escapes, Morse code, rot13, reversed
# text, leetspeak and spaced-out letters. Each decoder runs only behind a cheap test (a
# substring, a word of 16+ characters, or a text that looks like noise, see :func:`_noisy`),
# so ordinary prompts pay a few substring tests and nothing else. The cues of a view count
# in the same features as plain ones (the weight learned from plain attacks applies to an
# encoded one; a feature of its own gets no weight from training sources that never encode),
# and ``decoded_cue`` counts those the plain text did not have.
_U_ESCAPE = re.compile(r"\\u([0-9a-f]{4})")
_HEX_WORD = re.compile(r"(?:[0-9a-f]{2})+")
_B32_WORD = re.compile(r"[a-z2-7]{16,}")
_B64_RAW = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{16,}={0,2}")
_A85_RAW = re.compile(r"<~([^~]{10,})~>")  # no "~" inside: linear, however many "<~"
_HEX_BYTES = re.compile(r"(?:[0-9a-f]{2} ){8,}[0-9a-f]{2}")
_BINARY = re.compile(r"(?:[01]{8} ?){4,}")
_MORSE = re.compile(r"(?:[.-]{1,7} (?:/ )?){4,}[.-]{1,7}")
_SPACED = re.compile(r"(?<![a-z0-9])(?:[a-z] ){4,}[a-z](?![a-z0-9])")
_LEET = re.compile(r"[a-z][0134578@$][a-z]")
_LONG_MIN = 16
_NOISY_WORDS = 0.5
_NOISY_TAIL = 0.8
_NOISY_ONE = 0.25
_NOISY_WORDS_BIT = 1
_NOISY_ONE_BIT = 2
_HEX_MIN = 24
_MORSE_TABLE = dict(
    zip(
        (
            ".- -... -.-. -.. . ..-. --. .... .. .--- -.- .-.. -- -. --- .--. --.- .-. ... - "
            "..- ...- .-- -..- -.-- --.. ----- .---- ..--- ...-- ....- ..... -.... --... ---.. "
            "----."
        ).split(),
        "abcdefghijklmnopqrstuvwxyz0123456789",
        strict=True,
    )
)
_ROT13 = str.maketrans(
    "abcdefghijklmnopqrstuvwxyz", "nopqrstuvwxyzabcdefghijklm"
)  # fmt: skip
_LEET_MAP = str.maketrans("01345789@$", "oieastbgas")
# English function words as they look after rot13 and after reversal, padded with spaces
_ROT13_GATES = (" gur ", " naq ", " lbh ", " lbhe ", " nyy ", " guvf ")
_REVERSED_GATES = (" eht ", " uoy ", " ruoy ", " lla ", " siht ")
_DECODED_CUES = tuple(
    _FEATURE_INDEX[name]
    for name in (
        "override",
        "new_orders",
        "persona",
        "unrestricted",
        "reveal",
        "prompt_words",
        "tool_action",
        "safety_off",
    )
)
_DECODED = _FEATURE_INDEX["decoded_cue"]
_MERGED = tuple(i for i, name in enumerate(_FEATURES) if name != "decoded_cue")


def _printable(decoded: str) -> bool:
    """Decoded bytes that read as text: mostly printable, with spaces between words."""
    n = len(decoded)
    return n >= 8 and " " in decoded and sum(c.isprintable() for c in decoded) >= 0.9 * n


def _bytes_view(data: bytes) -> str | None:
    decoded = data.decode("utf-8", errors="replace")
    return decoded if _printable(decoded) else None


def _raw_views(raw: str, long_words: list[str]) -> list[str]:
    """Views of case-sensitive encodings (base64 around the long words of the normalised
    text, ASCII85 between ``<~ ~>``), decoded from the raw text."""
    views = []
    # base64 words are ASCII letters and digits (words split at "+" and "/"); encoded text
    # nearly always holds a digit, a long identifier or compound word does not
    words = [w for w in long_words[:3] if w.isascii() and w.isalnum() and not w.isalpha()]
    if len(raw) > 3 * MAX_CHARS:  # the part of a long text the normalised one keeps
        raw = raw[: 2 * MAX_CHARS] + "\n" + raw[-MAX_CHARS:]
    lowered = raw.lower() if words else ""
    for word in words:
        at = lowered.find(word)
        if at < 0:
            continue
        # a base64 token is cut into words at "+" and "/": read the whole run around it
        window = raw[max(at - 128, 0) : at + len(word) + 128]
        for token in _B64_RAW.findall(window)[:2]:
            try:
                data = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
            except ValueError:
                continue
            view = _bytes_view(data)
            if view is not None:
                views.append(view)
    if "<~" in raw:
        for payload in _A85_RAW.findall(raw)[:2]:
            try:
                view = _bytes_view(base64.a85decode(payload.replace("\n", "")))
            except ValueError:
                continue
            if view is not None:
                views.append(view)
    return views


def _views(text: str, raw: str | None, long_words: list[str], noisy: int) -> list[str]:
    views = []
    if "\\u" in text:
        views.append(_U_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text))
    for word in long_words[:3]:
        if len(word) >= _HEX_MIN and _HEX_WORD.fullmatch(word) is not None:
            decoded = bytes.fromhex(word).decode("ascii", errors="replace")
            if sum(c.isprintable() for c in decoded) >= 0.9 * len(decoded):
                views.append(decoded)
        elif not word.isalpha() and _B32_WORD.fullmatch(word) is not None:
            try:
                data = base64.b32decode(word.upper() + "=" * (-len(word) % 8))
            except ValueError:
                continue
            view = _bytes_view(data)
            if view is not None:
                views.append(view)
    if raw is not None and (long_words or "<~" in text):
        views += _raw_views(raw, long_words)
    if " 01" in text:
        for run in _BINARY.findall(text)[:2]:
            bits = run.replace(" ", "")
            data = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits) - 7, 8))
            view = _bytes_view(data)
            if view is not None:
                views.append(view)
    if " 20 " in text:  # hex bytes with spaces between them ("20" is a space)
        for run in _HEX_BYTES.findall(text)[:2]:
            view = _bytes_view(bytes.fromhex(run))
            if view is not None:
                views.append(view)
    if "%2" in text:
        view = urllib.parse.unquote(text)
        if view != text:
            views.append(view)
    if ".-" in text or "-." in text:
        for run in _MORSE.findall(text)[:2]:
            letters = [" " if code == "/" else _MORSE_TABLE.get(code, "") for code in run.split()]
            views.append("".join(letters))
    # rot13, reversal and leetspeak leave most words outside the dictionary, spaced-out
    # letters make many one-letter words: only such texts are tried
    if noisy & _NOISY_WORDS_BIT:
        padded = f" {text} "
        if any(gate in padded for gate in _ROT13_GATES):
            views.append(text.translate(_ROT13))
        if any(gate in padded for gate in _REVERSED_GATES):
            views.append(text[::-1])
        if len(_LEET.findall(text)) >= 2:
            views.append(text.translate(_LEET_MAP))
    if noisy & _NOISY_ONE_BIT and _SPACED.search(text) is not None:
        views.append(_SPACED.sub(lambda m: m.group(0).replace(" ", "") + " ", text))
    return views


def _decode_into(
    text: str, raw: str | None, row: list[int], long_words: list[str], noisy: int
) -> None:
    """Matches the decoded views of ``text`` and merges their counts into ``row`` (the larger
    count of each feature); ``decoded_cue`` counts the attack cues the plain text lacked."""
    base = sum(row[j] for j in _DECODED_CUES)
    extra = 0
    for view in _views(text, raw, long_words, noisy):
        counts = _match_rules(hash_text(view))[0][0]
        extra += max(sum(counts[j] for j in _DECODED_CUES) - base, 0)
        for j in _MERGED:
            if counts[j] > row[j]:
                row[j] = counts[j]
    row[_DECODED] = extra


def _rule_counts(batch: HashedBatch, noisy: list[int]) -> tuple[list[list[int]], list[int]]:
    """:func:`_match_rules`, with the counts of decoded views merged in (see above);
    ``noisy`` says which texts look like noise (see :func:`_noisy`)."""
    counts, first_cue = _match_rules(batch)
    long_words: dict[int, list[str]] = {}
    long_idx = (batch.word_ends - batch.word_starts >= _LONG_MIN).nonzero()[0]
    if long_idx.shape[0]:
        docs = batch.word_ptr.searchsorted(long_idx, side="right") - 1
        for d, w in zip(docs.tolist(), long_idx.tolist(), strict=True):
            off = int(batch.doc_ptr[d]) + 1  # word positions index the padded code points
            start, end = int(batch.word_starts[w]) - off, int(batch.word_ends[w]) - off
            long_words.setdefault(d, []).append(batch.texts[d][start:end])
    raws = batch.raw if batch.raw is not None else [None] * len(batch.texts)
    for d, (row, text, raw) in enumerate(zip(counts, batch.texts, raws, strict=True)):
        _decode_into(text, raw, row, long_words.get(d, []), noisy[d])
    return counts, first_cue


def _match_rules(batch: HashedBatch) -> tuple[list[list[int]], list[int]]:
    """Per text: match counts of every feature (rules capped at ``_MAX_HITS`` each, substrings)
    and the position of the first attack cue (``_NO_CUE`` when there is none). Plain Python
    lists: most texts have a handful of hits, and numpy scalar updates cost more than that."""
    n_features = len(_FEATURES)
    counts = [[0] * n_features for _ in batch.texts]
    first_cue = [_NO_CUE] * len(batch.texts)
    for row, text in zip(counts, batch.texts, strict=True):
        for gate, subs in _SUBSTRING_GATES:
            if gate in text:
                for feature, sub in subs:
                    if sub in text:
                        row[feature] += 1
    words = batch.word_prefix
    if not words.shape[0]:
        return counts, first_cue
    keys: list[int]
    if len(batch.texts) == 1 and words.shape[0] <= _PY_WORDS:
        # a short text: dictionary look-ups cost less than the numpy calls below
        at, keys = [], []
        for start, key in zip(
            batch.word_starts.tolist(), map(_TRIGGER_POS.get, words.tolist()), strict=True
        ):
            if key is not None:
                at.append(start - 1)
                keys.append(key)
        docs = [0] * len(keys)
    else:
        pos = _TRIGGER_KEYS.searchsorted(words)
        pos[pos >= _TRIGGER_KEYS.shape[0]] = 0
        found = (_TRIGGER_KEYS[pos] == words).nonzero()[0]
        keys = pos[found].tolist()
        if len(batch.texts) == 1:
            docs = [0] * found.shape[0]
            at = (batch.word_starts[found] - 1).tolist()
        else:
            doc = np.searchsorted(batch.word_ptr, found, side="right") - 1
            docs = doc.tolist()
            # word_starts index the padded code points; each text starts one position later
            at = (batch.word_starts[found] - batch.doc_ptr[doc] - 1).tolist()
    if not keys:
        return counts, first_cue
    current = -1
    text = ""
    row = counts[0]
    hits: dict[int, int] = {}
    for d, start, key in zip(docs, at, keys, strict=True):
        if d != current:
            current, text, row, hits = d, batch.texts[d], counts[d], {}
        any_head, rules = _TRIGGER_RULES[key]
        if not text.startswith(any_head, start):
            continue
        for rule_idx, rx, heads in rules:
            # counts are capped, so a long jailbreak need not be matched to its end
            seen = hits.get(rule_idx, 0)
            if (
                seen >= _MAX_HITS
                or not text.startswith(heads, start)
                or rx.match(text, start) is None
            ):
                continue
            hits[rule_idx] = seen + 1
            row[_RULE_FEATURE[rule_idx]] += 1
            if _RULE_IS_CUE[rule_idx] and start < first_cue[d]:
                first_cue[d] = start
    return counts, first_cue


def _noisy(non_dict: float, non_dict_tail: float, one_letter: float) -> int:
    """Which of the noise decoders to try on a text: rot13 / reversal / leetspeak when most of
    its words (or of its last words) are outside the dictionary, spaced-out letters when
    many of its words are one letter long (bit mask)."""
    words = non_dict >= _NOISY_WORDS or non_dict_tail >= _NOISY_TAIL
    return (_NOISY_WORDS_BIT if words else 0) | (_NOISY_ONE_BIT if one_letter >= _NOISY_ONE else 0)


def _numeric_one(
    batch: HashedBatch, vocabulary: npt.NDArray[np.uint64], out: npt.NDArray[np.float32]
) -> float:
    """The numeric features of a one-text batch into ``out`` (its columns from ``log_chars``
    on): the same numbers as the batch path, with a fraction of its numpy calls. Returns the
    share of one-letter words."""
    text = batch.texts[0]
    denom = max(len(text), 1)
    out[0] = np.log1p(denom) / 8.0
    if text:
        hist = np.bincount(batch.clipped[1:-1], minlength=129)
        p = hist[hist > 0] / denom
        out[1] = -float(p @ np.log2(p)) / 6.0
        out[4] = hist[128] / denom
        out[5] = int(hist @ _PUNCT_I) / denom
        tail = text[-_TAIL_CHARS:]
        kinds = _PUNCT_CHARS.intersection(tail)
        out[6] = sum(map(tail.count, kinds)) / min(denom, _TAIL_CHARS)
        out[11] = min(len(kinds), 10) / 10.0
        if out[5]:
            # the longest run of punctuation: the text's UTF-8 bytes with punctuation mapped
            # to "!" and everything else (including every byte of a non-ASCII character) to
            # a space, split into the runs (a regex findall of the runs cost twice as much)
            runs = text.encode().translate(_PUNCT_BYTES).split()
            out[7] = min(max(map(len, runs), default=1), 20) / 20.0
    if batch.word_hash.shape[0] > _PY_WORDS:
        return _numeric_words_numpy(batch, vocabulary, out)
    # the word features of a short text in plain Python: set look-ups and list counts over a
    # few tens of words cost less than the dozen numpy calls of the array path (which wins
    # on long texts)
    hashes: list[int] = batch.word_hash.tolist()
    n_words = len(hashes)
    if n_words:
        starts: list[int] = batch.word_starts.tolist()
        lengths = [e - a for a, e in zip(starts, batch.word_ends.tolist(), strict=True)]
        if text.isascii():
            counted = [n >= 3 for n in lengths]
            long_words = sum(n > 15 for n in lengths)
        else:
            # word positions index the padded code points: text[a - 1 : a - 1 + n]
            ascii_word = [
                text[a - 1 : a - 1 + n].isascii() for a, n in zip(starts, lengths, strict=True)
            ]
            counted = [w and n >= 3 for w, n in zip(ascii_word, lengths, strict=True)]
            long_words = sum(w and n > 15 for w, n in zip(ascii_word, lengths, strict=True))
        known = _vocabulary_set(vocabulary)
        unknown = [c and h not in known for h, c in zip(hashes, counted, strict=True)]
        foreign = _foreign(sum(h in _FOREIGN_SET for h in hashes) / n_words, float(out[4]))
        out[2] = (1.0 - foreign) * (sum(unknown) / max(sum(counted), 1))
        out[3] = (1.0 - foreign) * (
            sum(unknown[-_TAIL_WORDS:]) / max(sum(counted[-_TAIL_WORDS:]), 1)
        )
        out[8] = long_words / n_words
        return float(lengths.count(1)) / float(n_words)
    return 0.0


def _numeric_words_numpy(
    batch: HashedBatch, vocabulary: npt.NDArray[np.uint64], out: npt.NDArray[np.float32]
) -> float:
    """The word part of :func:`_numeric_one` with array operations (long texts)."""
    n_words = batch.word_hash.shape[0]
    if n_words:
        lengths = batch.word_ends - batch.word_starts
        counted = lengths >= 3
        long_words = lengths > 15
        if not batch.texts[0].isascii():
            # Every non-ASCII code point is a word character, so the code points from a
            # word's start to the next word's are that word's and ASCII separators: the
            # word is ASCII when their largest is.
            ascii_word = np.maximum.reduceat(batch.codes, batch.word_starts) < 128
            counted &= ascii_word
            long_words &= ascii_word
        unknown = ~_in_vocabulary(batch.word_hash, vocabulary) & counted
        foreign = _foreign(
            int(np.count_nonzero(_in_vocabulary(batch.word_hash, _FOREIGN_HASHES))) / n_words,
            float(out[4]),
        )
        out[2] = (1.0 - foreign) * (
            int(np.count_nonzero(unknown)) / max(int(np.count_nonzero(counted)), 1)
        )
        out[3] = (1.0 - foreign) * (
            int(np.count_nonzero(unknown[-_TAIL_WORDS:]))
            / max(int(np.count_nonzero(counted[-_TAIL_WORDS:])), 1)
        )
        out[8] = int(np.count_nonzero(long_words)) / n_words
        return float(np.count_nonzero(lengths == 1)) / float(n_words)
    return 0.0


def structural_features(
    batch: HashedBatch, vocabulary: npt.NDArray[np.uint64]
) -> npt.NDArray[np.float32]:
    """One row of :data:`STRUCTURAL_NAMES` per text of ``batch``.

    ``vocabulary`` is the sorted array of 64-bit word hashes counted as "dictionary words"
    (shipped with the model, learned from benign prompts); words outside it on a long run of
    tokens are what noise-like adversarial suffixes look like. Everything but the rule matches
    is computed for the whole batch in one set of array operations.
    """
    n = len(batch)
    out = np.zeros((n, len(STRUCTURAL_NAMES)), dtype=np.float32)
    if not n:
        return out
    f = len(_FEATURES)
    if n == 1:
        single = _numeric_one(batch, vocabulary, out[0, f:])
        counts, first_cue = _rule_counts(batch, [_noisy(out[0, f + 2], out[0, f + 3], single)])
        row, cue = counts[0], first_cue[0]
        out[0, :f] = [_LOG_COUNT[min(c, _MAX_HITS)] for c in row]
        framed = any(row[j] for j in _FRAME_COLUMNS)
        out[0, f + 12] = framed and row[_HARM] > 0
        if cue != _NO_CUE:
            out[0, f + 9] = cue / max(len(batch.texts[0]), 1)
            out[0, f + 10] = cue > _LATE
        return out
    single_share = _numeric_batch(batch, vocabulary, out[:, f:])
    counts, first_cue = _rule_counts(
        batch,
        [
            _noisy(a, b, c)
            for a, b, c in zip(
                out[:, f + 2].tolist(), out[:, f + 3].tolist(), single_share.tolist(), strict=True
            )
        ],
    )
    matrix = np.minimum(np.array(counts, dtype=np.float32), float(_MAX_HITS))
    out[:, :f] = np.log1p(matrix)
    out[:, f + 12] = (matrix[:, _FRAME_COLUMNS].sum(axis=1) > 0) & (matrix[:, _HARM] > 0)
    cues = np.array(first_cue, dtype=np.float64)
    cue_at = np.flatnonzero(cues != _NO_CUE)
    out[cue_at, f + 9] = cues[cue_at] / np.maximum(np.diff(batch.doc_ptr)[cue_at] - 2, 1)
    out[cue_at, f + 10] = cues[cue_at] > _LATE
    return out


def _numeric_batch(
    batch: HashedBatch, vocabulary: npt.NDArray[np.uint64], out: npt.NDArray[np.float32]
) -> npt.NDArray[np.float64]:
    """The numeric features of a batch into ``out`` (its columns from ``log_chars`` on);
    returns each text's share of one-letter words."""
    f = 0
    n = len(batch)
    codes = batch.codes
    lens = np.diff(batch.doc_ptr)  # padded lengths
    n_chars = lens - 2
    denom = np.maximum(n_chars, 1).astype(np.float64)
    out[:, f] = np.log1p(denom) / 8.0
    doc_of_code = np.repeat(np.arange(n), lens)
    clipped = batch.clipped
    # every non-ASCII code point shares one bin: cheap, and enough to see noise
    hist = np.bincount(doc_of_code * 129 + clipped, minlength=n * 129).reshape(n, 129)
    hist[:, 32] -= 2  # the padding spaces
    p = hist / denom[:, None]
    plogp = np.zeros_like(p)
    np.log2(p, out=plogp, where=p > 0)
    out[:, f + 1] = -(p * plogp).sum(axis=1) / 6.0
    out[:, f + 4] = hist[:, 128] / denom
    out[:, f + 5] = (hist @ _PUNCT_I) / denom
    punct = _PUNCT[clipped]
    code_pos = np.arange(codes.shape[0])
    tail = punct & (code_pos >= np.repeat(batch.doc_ptr[1:] - 1 - _TAIL_CHARS, lens))
    out[:, f + 6] = np.bincount(doc_of_code, weights=tail, minlength=n) / np.minimum(
        denom, _TAIL_CHARS
    )
    # distinct punctuation characters at the end: a noise suffix mixes many kinds
    kinds = np.unique(doc_of_code[tail] * 129 + clipped[tail]) // 129
    out[:, f + 11] = np.minimum(np.bincount(kinds, minlength=n), 10) / 10.0
    edges = np.diff(np.concatenate(([0], punct.view(np.int8), [0])))
    run_starts = np.flatnonzero(edges == 1)
    if run_starts.shape[0]:
        run_len = np.flatnonzero(edges == -1) - run_starts
        longest = np.zeros(n, dtype=np.int64)
        np.maximum.at(longest, doc_of_code[run_starts], run_len)
        out[:, f + 7] = np.minimum(longest, 20) / 20.0

    n_words = np.diff(batch.word_ptr)
    if batch.word_hash.shape[0]:
        # Only plain-ASCII words of 3+ characters count for the dictionary features: other
        # scripts (written without spaces, or simply not in an English word list) are not
        # noise, and one- or two-letter words are too often abbreviations or slot values.
        doc_of_word = np.repeat(np.arange(n), n_words)
        non_ascii = np.concatenate(([0], np.cumsum(codes > 127)))
        ascii_word = (non_ascii[batch.word_ends] - non_ascii[batch.word_starts]) == 0
        lengths = batch.word_ends - batch.word_starts
        counted = ascii_word & (lengths >= 3)
        unknown = ~_in_vocabulary(batch.word_hash, vocabulary) & counted
        last = np.repeat(batch.word_ptr[1:], n_words) - np.arange(batch.word_hash.shape[0])
        in_tail = last <= _TAIL_WORDS
        per_doc = np.bincount(
            np.concatenate(
                [
                    doc_of_word,
                    doc_of_word + n,
                    doc_of_word + 2 * n,
                    doc_of_word + 3 * n,
                    doc_of_word + 4 * n,
                    doc_of_word + 5 * n,
                    doc_of_word + 6 * n,
                ]
            ),
            weights=np.concatenate(
                [
                    unknown,
                    counted,
                    unknown & in_tail,
                    counted & in_tail,
                    ascii_word & (lengths > 15),
                    _in_vocabulary(batch.word_hash, _FOREIGN_HASHES),
                    lengths == 1,
                ]
            ),
            minlength=7 * n,
        ).reshape(7, n)
        share = per_doc[5] / np.maximum(n_words, 1)
        foreign = np.minimum(
            np.maximum(share / _FOREIGN_SHARE, out[:, f + 4] / _FOREIGN_SCRIPT), 1.0
        ) * (n_words > 0)
        out[:, f + 2] = (1.0 - foreign) * per_doc[0] / np.maximum(per_doc[1], 1)
        out[:, f + 3] = (1.0 - foreign) * per_doc[2] / np.maximum(per_doc[3], 1)
        out[:, f + 8] = per_doc[4] / np.maximum(n_words, 1)
        return np.asarray(per_doc[6] / np.maximum(n_words, 1), dtype=np.float64)
    return np.zeros(n, dtype=np.float64)
