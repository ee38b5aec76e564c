"""One canonical operation name per kind of call, whatever the instrumentation called the span.

Detectors group spans by operation ("two calls of the same operation ran one after another"), and findings are
aggregated across traces by it, so ``openai.chat.completions`` (Peekr SDK), ``ChatCompletion`` (OpenInference),
``chat gpt-4o-mini`` (GenAI semantic conventions) and ``openai.chat`` (OpenLLMetry) must all read
``chat.completions``. The canonical names are the OpenAI SDK's resource names; other providers' chat APIs map onto
them, because the point is the shape of the work, not the vendor.

Rules, applied in this order to the name with whitespace collapsed:

==========================  ===================================================  ==================================
rule                        example                                              result
==========================  ===================================================  ==================================
HTTP route                  ``GET /users/42/orders``                             ``GET /users/{id}/orders``
                            (numeric, UUID and >=16-hex segments become {id},    (query string dropped)
                            so one endpoint has one name)
tool span with a tool name  kind "tool", tool_name "get_weather"                 ``tool get_weather``
GenAI "{operation} {x}"     ``chat gpt-4o-mini``                                 ``chat.completions``
                            ``text_completion m`` / ``generate_content m``       ``completions`` / ``chat.completions``
                            ``embeddings text-embedding-3-small``                ``embeddings``
                            ``execute_tool get_weather``                         ``tool get_weather``
                            ``invoke_agent Travel`` / ``create_agent Travel``    ``agent Travel`` / ``create_agent Travel``
                            ``invoke_workflow W`` / ``retrieval S`` / ``rerank`` ``workflow W`` / ``retrieval S`` / ``rerank``
framework prefix dropped    ``langchain.chat.ChatOpenAI``, ``llamaindex.llm``    ``ChatOpenAI``, ``llm`` (then below)
provider prefix dropped     ``openai.``, ``anthropic.``, ``azure_openai.``,      ``openai.embeddings`` -> ``embeddings``
                            ``bedrock.``, ``cohere.``, ``gemini.``, ``vertexai.``,
                            ``mistral.``, ``groq.``, ``litellm.``, ... (below),
                            case-insensitive, repeatedly, plus the span's own
                            provider
model tokens dropped        a whitespace-separated token equal to the span's     ``summarise gpt-4o`` -> ``summarise``
                            model or shaped like one (gpt-*, claude*, o1...)
OpenLLMetry class suffix    ``RunnableSequence.workflow``, ``ChatOpenAI.chat``   ``RunnableSequence``, ``chat.completions``
canonical table             words of the name (camelCase and . _ - split,        see ``_CANONICAL``
                            "create"/"async"/"parse"/... ignored):
                            chat, chat completion(s), completion, acompletion,   ``chat.completions``
                            messages, converse, generate content/text/object,
                            llm, Chat<Provider> classes (ChatOpenAI...)
                            completions, text completion                         ``completions``
                            embedding(s), embed, embed content/many/query,       ``embeddings``
                            <Provider>Embeddings, CreateEmbeddings
                            responses / response, rerank, moderation(s)          ``responses``, ``rerank``, ``moderations``
anything else               the cleaned name, case kept                          ``retrieve_documents``
==========================  ===================================================  ==================================

litellm's ``completion()`` is its chat API, so a bare ``completion`` is a chat call too (OpenAI's legacy
``Completion`` class reads the same way; it is rare enough not to matter). Anthropic's ``messages``, Bedrock's
``converse`` and Gemini's ``generate_content`` are chat calls as well.
"""

from __future__ import annotations

import re
from functools import lru_cache

CHAT = "chat.completions"
EMBEDDINGS = "embeddings"

PROVIDER_PREFIXES = (
    "openai",
    "azure_openai",
    "azure",
    "anthropic",
    "aws_bedrock",
    "aws.bedrock",
    "bedrock",
    "cohere",
    "gemini",
    "google_genai",
    "google",
    "vertexai",
    "vertex_ai",
    "mistralai",
    "mistral",
    "groq",
    "litellm",
    "ollama",
    "together",
    "fireworks",
    "deepseek",
    "xai",
    "openrouter",
    "huggingface",
    "langchain",
    "llama_index",
    "llamaindex",
    "ai",  # the Vercel AI SDK: ai.generateText, ai.embed
)
# Longest first: "langchain.chat.ChatOpenAI" loses "langchain.chat.", not just "langchain.".
FRAMEWORK_PREFIXES = (
    "langchain.retriever.",
    "langchain.agent.",
    "langchain.chain.",
    "langchain.tool.",
    "langchain.chat.",
    "langchain.llm.",
    "crewai.agent.",
    "crewai.",
)
_GENAI_OPERATIONS = {
    "chat": CHAT,
    "generate_content": CHAT,
    "text_completion": "completions",
    "completion": CHAT,
    "embeddings": EMBEDDINGS,
    "embedding": EMBEDDINGS,
    "rerank": "rerank",
}
_GENAI_TARGETED = {  # the target is part of the operation: two different tools are two operations
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "create_agent",
    "invoke_workflow": "workflow",
    "retrieval": "retrieval",
}
_NOISE_WORDS = frozenset({"create", "acreate", "async", "sync", "parse", "parsed", "beta", "v1", "with", "raw"})
_CANONICAL: dict[tuple[str, ...], str] = {
    ("chat",): CHAT,
    ("chat", "completion"): CHAT,
    ("chat", "completions"): CHAT,
    ("completion",): CHAT,
    ("acompletion",): CHAT,
    ("messages",): CHAT,
    ("converse",): CHAT,
    ("converse", "stream"): CHAT,
    ("generate", "content"): CHAT,
    ("generate", "text"): CHAT,
    ("stream", "text"): CHAT,
    ("generate", "object"): CHAT,
    ("stream", "object"): CHAT,
    ("llm",): CHAT,
    ("completions",): "completions",
    ("text", "completion"): "completions",
    ("embeddings",): EMBEDDINGS,
    ("embedding",): EMBEDDINGS,
    ("aembedding",): EMBEDDINGS,
    ("embed",): EMBEDDINGS,
    ("embed", "content"): EMBEDDINGS,
    ("embed", "many"): EMBEDDINGS,
    ("embed", "query"): EMBEDDINGS,
    ("embed", "documents"): EMBEDDINGS,
    ("responses",): "responses",
    ("response",): "responses",
    ("rerank",): "rerank",
    ("moderations",): "moderations",
    ("moderation",): "moderations",
}
# LangChain names chat models and embedders after their class: ChatOpenAI, AzureChatOpenAI, OpenAIEmbeddings.
_CLASS_PROVIDERS = frozenset(
    {
        "openai",
        "azureopenai",
        "anthropic",
        "vertexai",
        "mistralai",
        "groq",
        "ollama",
        "bedrock",
        "bedrockconverse",
        "googlegenerativeai",
        "cohere",
        "litellm",
        "fireworks",
        "together",
        "deepseek",
        "xai",
        "huggingface",
        "perplexity",
    }
)
_OPENLLMETRY_SUFFIXES = frozenset({"chat", "completion", "task", "workflow", "agent", "tool", "llm"})

_HTTP_RE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+)$")
_ID_SEGMENT_RE = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{16,})$"
)
_WORD_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_MODEL_TOKEN_RE = re.compile(
    r"(?:gpt-|chatgpt|o[1-9](?:-|$)|claude|text-embedding|embed-|gemini-|mistral-|mixtral|codestral|llama[-\d]|"
    r"command-|qwen|deepseek-|phi-\d|sonar)",
    re.IGNORECASE,
)


@lru_cache(maxsize=8192)
def normalise_operation(name: str, *, kind: str = "", model: str = "", provider: str = "", tool_name: str = "") -> str:
    """The canonical operation of a span (see the module docstring for the rule table). Pure and cached."""
    text = " ".join(name.split())
    if not text:
        return f"tool {tool_name}" if tool_name else ""
    http = _HTTP_RE.match(text)
    if http:
        path = http.group(2).split("?", 1)[0]
        path = "/".join("{id}" if _ID_SEGMENT_RE.match(part) else part for part in path.split("/"))
        return f"{http.group(1)} {path}"
    if kind == "tool" and tool_name:
        return f"tool {tool_name}"

    head, _, rest = text.partition(" ")
    head_lower = head.lower()
    if head_lower in _GENAI_TARGETED:
        return f"{_GENAI_TARGETED[head_lower]} {rest}" if rest else _GENAI_TARGETED[head_lower]
    if rest and head_lower in _GENAI_OPERATIONS:
        return _GENAI_OPERATIONS[head_lower]

    text = _strip_prefixes(text, provider)
    text = _drop_model_tokens(text, model)
    front, dot, last = text.rpartition(".")
    if dot and last.lower() in _OPENLLMETRY_SUFFIXES and front and not front.islower() and " " not in front:
        text = front
    return _canonical(text) or text


def _strip_prefixes(text: str, provider: str) -> str:
    lower = text.lower()
    for prefix in FRAMEWORK_PREFIXES:
        if lower.startswith(prefix) and len(text) > len(prefix):
            text, lower = text[len(prefix) :], lower[len(prefix) :]
            break
    own = provider.lower().replace(" ", "_")
    stripped = True
    while stripped:
        stripped = False
        for prefix in (own, *PROVIDER_PREFIXES) if own else PROVIDER_PREFIXES:
            cut = len(prefix) + 1
            if lower.startswith(prefix) and lower[len(prefix) : cut] == "." and len(text) > cut:
                text, lower = text[cut:], lower[cut:]
                stripped = True
                break
    return text


def _drop_model_tokens(text: str, model: str) -> str:
    if " " not in text:
        return text
    model_lower = model.lower()
    kept = [t for t in text.split(" ") if not (t.lower() == model_lower or _MODEL_TOKEN_RE.match(t))]
    return " ".join(kept) if kept else text


def _canonical(text: str) -> str:
    words = tuple(w for w in (m.lower() for m in _WORD_RE.findall(text)) if w not in _NOISE_WORDS)
    if not words:
        return ""
    found = _CANONICAL.get(words)
    if found:
        return found
    squashed = "".join(words)
    if squashed.startswith("azure"):
        squashed = squashed[5:]
    if squashed.startswith("chat") and squashed[4:] in _CLASS_PROVIDERS:
        return CHAT
    if squashed.endswith("embeddings") and (squashed[:-10] in _CLASS_PROVIDERS or squashed[:-10] in ("", "openai")):
        return EMBEDDINGS
    return ""
