"""One completion, start to finish: the single place to read the pipeline.

document + cursor -> context -> prompt -> engine stream -> postprocess -> text

The stream is cut as soon as ``StreamCutter`` knows the answer, which closes
the engine's stream and stops the model. Cancellation (a superseded request,
``$/cancelRequest``) arrives as ``asyncio.CancelledError`` and propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from completion.context import Context, ContextOptions, build_context
from completion.crossfile.options import SOURCES
from completion.crossfile.provider import CrossFileProvider
from completion.crossfile.snippet import Snippet, render_block, snippet_comment, source_order
from completion.document import Document
from completion.languages import path_comment
from completion.postprocess import StreamCutter, postprocess_insertion
from completion.privacy import ScrubOptions, reinserts_placeholder, scrub
from completion.prompt import (
    DEFAULT_TEMPLATE,
    FimTemplate,
    Prompt,
    build_prompt,
    detect_family,
    get_template,
)
from completion.region import TypedRegions
from completion.stats import Stats
from engines.base import (
    ContextTooLongError,
    Engine,
    GenerationRequest,
    GenerationUsage,
    ModelInfo,
    SamplesSeveral,
    TokenEstimator,
)
from engines.fleet import session_key
from engines.registry import REMOTE_ENGINES

log = logging.getLogger(__name__)

# Tokens the engine adds around the rendered prompt (BOS) plus a safety margin.
_PROMPT_MARGIN_TOKENS = 8


@dataclass(frozen=True)
class CompletionOptions:
    """Sampling and shaping of completions (the ``completion`` config section)."""

    max_tokens: int = 64
    """Most tokens for a single-line completion."""
    max_tokens_multiline: int | None = None
    """Most tokens for a multi-line completion; unset means twice ``max_tokens``."""
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    """Extra stop sequences, besides the template's own."""
    template: str = "auto"
    """FIM template name, or 'auto' to detect it from the model."""
    context: ContextOptions = field(default_factory=ContextOptions)
    scrub_secrets: ScrubOptions = field(default_factory=ScrubOptions)
    """Where credential shapes are replaced before the prompt reaches the engine."""
    alternatives: int = 3
    """Most distinct items for an explicit trigger (automatic triggers get one)."""
    alternatives_temperature: float = 0.8
    """Sampling temperature of the alternatives after the first, when ``temperature`` is 0."""


@dataclass
class Timing:
    debounce_ms: float = 0.0
    context_ms: float = 0.0
    first_token_ms: float = 0.0
    engine_ms: float = 0.0
    postprocess_ms: float = 0.0
    total_ms: float = 0.0

    def as_json(self) -> dict[str, float]:
        return {
            "debounceMs": round(self.debounce_ms, 3),
            "contextMs": round(self.context_ms, 3),
            "firstTokenMs": round(self.first_token_ms, 3),
            "engineMs": round(self.engine_ms, 3),
            "postprocessMs": round(self.postprocess_ms, 3),
            "totalMs": round(self.total_ms, 3),
        }


@dataclass
class Completion:
    """The answer for one cursor: insert ``text`` over ``start``..``end``."""

    text: str
    start: int
    end: int
    multiline: bool = False
    template: str = ""
    model: str = ""
    raw: str = ""
    """What the model produced before post-processing."""
    skipped: str | None = None
    cached: bool = False
    """Served from the cache or an adopted generation, with no new model call."""
    usage: GenerationUsage = field(default_factory=GenerationUsage)
    timing: Timing = field(default_factory=Timing)
    snippets: tuple[Snippet, ...] = ()
    """Other files' snippets that went into the prompt (cross-file context)."""


def resolve_template(name: str, info: ModelInfo | None) -> FimTemplate:
    """The configured template, or the one the model's vocabulary and name point to."""
    if name != "auto":
        return get_template(name)
    if info is None:
        return get_template(DEFAULT_TEMPLATE)
    vocabulary = info.special_tokens or frozenset()
    family = info.family or detect_family(info.name, info.metadata, vocabulary)
    if family is None:
        # A vocabulary we could inspect, with no FIM tokens: plain continuation.
        return get_template("plain" if info.special_tokens is not None else DEFAULT_TEMPLATE)
    return get_template(family)


def lf_only(context: Context) -> Context:
    """The context with CRLF as LF: the model sees the same prompt for either ending."""
    if "\r\n" not in context.prefix and "\r\n" not in context.suffix:
        return context
    pinned = len(context.prefix[: context.pinned].replace("\r\n", "\n"))
    return dataclasses.replace(
        context,
        prefix=context.prefix.replace("\r\n", "\n"),
        suffix=context.suffix.replace("\r\n", "\n"),
        header=context.header.replace("\r\n", "\n"),
        pinned=pinned,
    )


def line_ending_at(document: Document, offset: int) -> str:
    """The line break the document uses around ``offset``: CRLF or LF."""
    line = document.line_of(offset)
    for candidate in (line, line - 1, 0):
        if 0 <= candidate < document.line_count - 1:
            end = document.line_end(candidate)
            return "\r\n" if document.text.startswith("\r\n", end) else "\n"
    return "\n"


class CompletionPipeline:
    """Composes the stages for one engine and one set of options."""

    def __init__(self, engine: Engine, options: CompletionOptions, stats: Stats | None = None):
        self.engine = engine
        self.options = options
        self.stats = stats or Stats()
        self.counter = TokenEstimator()
        self.workspace_uri = ""
        """Salts each document's session key (remote engines keep a key on one replica)."""
        self.on_served: Callable[[str], None] | None = None
        """Told the replica that answered each finished generation (remote engines)."""
        self._budgets: dict[tuple[int, str, int, bool], ContextOptions] = {}
        self.cross_file: CrossFileProvider | None = None
        """Where cross-file snippets come from (the service's provider); None: none."""
        self.regions = TypedRegions()

    @property
    def template(self) -> FimTemplate:
        return resolve_template(self.options.template, self.engine.info)

    def context_options(self, multiline: bool = False) -> ContextOptions:
        """The context options with ``max_tokens`` capped to fit the model's window.

        prefix + suffix may use the window minus the completion's tokens (the
        multi-line budget only for a multi-line request), the template's own
        tokens, and a small margin (BOS and rounding).
        """
        options = self.options.context
        info = self.engine.info
        if info is None or info.context_length <= 0:
            return options
        template = self.template
        key = (info.context_length, template.name, self.counter.version, multiline)
        budgeted = self._budgets.get(key)
        if budgeted is None:
            if len(self._budgets) > 8:  # stale estimator versions
                self._budgets.clear()
            overhead = self.counter(template.render("", "")) + _PROMPT_MARGIN_TOKENS
            room = info.context_length - self.max_tokens(multiline) - overhead
            budget = max(0, min(options.max_tokens, room))
            budgeted = self._budgets[key] = dataclasses.replace(options, max_tokens=budget)
        return budgeted

    def make_context(
        self,
        document: Document,
        offset: int,
        file_path: str | None = None,
        options: ContextOptions | None = None,
    ) -> Context:
        """The context at ``offset``: cut for a one-line answer unless the cursor
        wants a block (or cut to ``options``), in its typed-region form when that is on."""
        if options is None:
            options = self.context_options(False)
            context = self.build_context(document, offset, options, file_path)
            if context.multiline:
                wide = self.context_options(True)
                if wide.max_tokens < options.max_tokens:
                    options = wide
                    context = self.build_context(document, offset, options, file_path)
        else:
            context = self.build_context(document, offset, options, file_path)
        if options.typed_region and self.template.middle_follows:
            cut = options
            context = self.regions.apply(
                document,
                offset,
                context,
                cut,
                self.counter,
                lambda budget: self.build_context(
                    document, offset, dataclasses.replace(cut, max_tokens=budget), file_path
                ),
            )
        return lf_only(context)

    def build_context(
        self, document: Document, offset: int, options: ContextOptions, file_path: str | None
    ) -> Context:
        """The context, with other files' snippets at its head when there are any.

        The snippets take up to ``crossFile.share`` of the budget; the current
        file gets the rest. Repository format: the snippets under their path
        comments, dependencies first, then the current file under its own.
        """
        snippets = self._cross_file_snippets(document, offset, options)
        if not snippets:
            return build_context(document, offset, options, self.counter, file_path=file_path)
        block = render_block(source_order(snippets, SOURCES), self._file_marker())
        path = file_path or document.uri.rsplit("/", 1)[-1]
        marker = self._file_marker()
        own = (
            marker.replace("{path}", path)
            if marker
            else path_comment(path, document.grammar, document.language_id)
            or snippet_comment(path, document.language_id)
        )
        head = block + "\n" + own
        rest = dataclasses.replace(
            options,
            max_tokens=max(0, options.max_tokens - self.counter(head)),
            file_path_header=False,
        )
        context = build_context(document, offset, rest, self.counter, file_path=file_path)
        return dataclasses.replace(
            context, header=head, snippets=snippets, cross_file_chars=len(block) + 1
        )

    def _file_marker(self) -> str | None:
        """The template's file-separator token form (``<file_sep>{path}\\n``), if it has one."""
        return self.template.file_header

    def _cross_file_snippets(
        self, document: Document, offset: int, options: ContextOptions
    ) -> tuple[Snippet, ...]:
        provider, cross = self.cross_file, options.cross_file
        if provider is None or not cross.enabled or options.max_tokens <= 0:
            return ()
        try:
            share = min(max(cross.share, 0.0), 0.9)  # config checks report a bad one
            return provider.select(
                document, offset, cross, int(options.max_tokens * share), self.counter
            )
        except Exception:  # context is a bonus: never fail a completion over it
            log.exception("cross-file context failed for %s", document.uri)
            return ()

    @property
    def scrubbing(self) -> bool:
        """Whether prompts for this engine pass secret scrubbing (completion/privacy.py)."""
        return self.options.scrub_secrets.applies(self.engine.name in REMOTE_ENGINES)

    def make_prompt(self, context: Context) -> Prompt:
        prefix, suffix, scrubbed = context.header + context.prefix, context.suffix, 0
        head_chars = context.cross_file_chars
        grouped: dict[str, list[str]] = {}
        for snippet in source_order(context.snippets, SOURCES):
            grouped.setdefault(snippet.path, []).append(snippet.text)
        files = tuple((path, "\n".join(texts)) for path, texts in grouped.items())
        if self.scrubbing:
            # Other files' block is scrubbed apart, so its length stays known
            # for servers that take it apart (input_extra), scrubbed the same.
            head, _, in_head = scrub(prefix[:head_chars], "")
            rest, suffix, in_rest = scrub(prefix[head_chars:], suffix)
            prefix, head_chars, scrubbed = head + rest, len(head), in_head + in_rest
            files = tuple((path, scrub(text, "")[0]) for path, text in files)
        prompt = build_prompt(
            self.template,
            prefix,
            suffix,
            self.options.stop,
            line_in_middle=self.options.context.line_in_middle,
            middle_start=context.prefix[len(context.prefix) - context.typed :]
            if context.typed
            else None,
        )
        if not files and not scrubbed:
            return prompt
        return dataclasses.replace(
            prompt, files=files, files_chars=head_chars, secrets_scrubbed=scrubbed
        )

    async def fit_prompt(
        self,
        document: Document,
        offset: int,
        file_path: str | None,
        context: Context,
        count_exactly: bool = False,
    ) -> tuple[Context, Prompt]:
        """The prompt, checked with the engine's tokenizer when it is near the window.

        The budget is cut with an estimate; when the estimate comes within a
        quarter of the limit (or ``count_exactly`` is set, or the estimate is not
        calibrated yet), the engine counts exactly,
        and the context is cut again (smaller) until the prompt fits.
        """
        prompt = self.make_prompt(context)
        info = self.engine.info
        if info is None or info.context_length <= 0:
            return context, prompt
        limit = info.context_length - self.max_tokens(context.multiline) - 1
        # Until the estimate has met this engine's tokenizer, count exactly any
        # prompt that could overflow even at one byte per token.
        if not self.counter.calibrated and len(prompt.text.encode("utf-8")) >= 0.75 * limit:
            count_exactly = True
        if not count_exactly and self.counter(prompt.text) < 0.75 * limit:
            return context, prompt
        options = self.context_options(context.multiline)
        # An engine without a tokenizer only estimates: nothing to learn from it.
        learn = self.engine.counts_exactly
        for _ in range(4):
            exact = await self.engine.count_tokens(prompt.text)
            version = self.counter.version
            if learn:
                self.counter.observe(prompt.text, exact)
            if exact <= limit or options.max_tokens == 0:
                break
            if self.counter.version != version:
                # The estimate was off and has just been recalibrated: the
                # budget was right, the cut was not. Cut again at the same budget.
                options = self.context_options(context.multiline)
            else:
                shrunk = int(options.max_tokens * limit / exact * 0.9) - _PROMPT_MARGIN_TOKENS
                options = dataclasses.replace(options, max_tokens=max(0, shrunk))
            log.debug(
                "prompt of %d tokens over %d: context budget %d", exact, limit, options.max_tokens
            )
            # The region's anchor was cut with the estimate that was just proven wrong.
            self.regions.forget(document.uri)
            context = self.make_context(document, offset, file_path, options)
            prompt = self.make_prompt(context)
        return context, prompt

    def max_tokens(self, multiline: bool) -> int:
        """Most tokens to generate, capped so the prompt keeps half the window."""
        options = self.options
        wanted = options.max_tokens
        if multiline:
            wanted = options.max_tokens_multiline or 2 * options.max_tokens
        info = self.engine.info
        if info is not None and info.context_length > 1:
            wanted = min(wanted, info.context_length // 2)
        return wanted

    async def complete(
        self,
        document: Document,
        offset: int,
        file_path: str | None = None,
        progress: Callable[[str], None] | None = None,
        context: Context | None = None,
        seed: int | None = None,
    ) -> Completion:
        """Complete at ``offset``; ``context``, when given, was built for this very text.

        ``seed`` asks for a sampled alternative instead of the configured
        (usually greedy) answer (see completion/alternatives.py).
        """
        started = time.perf_counter()
        self.stats.add(requests=1)
        session = session_key(self.workspace_uri, document.uri)
        if context is None:
            context = self.make_context(document, offset, file_path)
        if context.skip_reason:
            prompt = self.make_prompt(context)
        else:
            context, prompt = await self.fit_prompt(document, offset, file_path, context)
        timing = Timing(context_ms=(time.perf_counter() - started) * 1000)
        result = Completion(
            text="",
            start=offset,
            end=offset,
            multiline=context.multiline,
            template=prompt.template,
            timing=timing,
        )
        if context.skip_reason:
            self.stats.add(skipped=1)
            result.skipped = context.skip_reason
            return result
        try:
            raw, usage = await self.generate(prompt, context, timing, progress, session, seed)
        except ContextTooLongError:
            # The estimate missed by more than its margin (an unusual tokenizer):
            # count exactly, cut the context to fit, and try once more.
            log.info("prompt over the model's window; recounting exactly and retrying once")
            rejected = prompt.text
            context, prompt = await self.fit_prompt(document, offset, file_path, context, True)
            if prompt.text == rejected:
                # The engine's real window is smaller than it reported: cut a quarter.
                options = self.context_options(context.multiline)
                smaller = dataclasses.replace(options, max_tokens=options.max_tokens * 3 // 4)
                self.regions.forget(document.uri)
                context = self.make_context(document, offset, file_path, smaller)
                prompt = self.make_prompt(context)
            raw, usage = await self.generate(prompt, context, timing, progress, session, seed)
        self.counter.observe(prompt.text, usage.prompt_tokens_total)
        return self._finish(result, raw, usage, document, context, prompt, started)

    def _finish(
        self,
        result: Completion,
        raw: str,
        usage: GenerationUsage,
        document: Document,
        context: Context,
        prompt: Prompt,
        started: float,
    ) -> Completion:
        """``result`` with the post-processed ``raw`` answer in it."""
        offset, timing = result.start, result.timing
        result.raw, result.usage, result.snippets = raw, usage, context.snippets
        result.model = self.engine.info.name if self.engine.info else ""
        post_started = time.perf_counter()
        insertion = postprocess_insertion(raw, context, prompt.stop)
        # The range covers the closers the answer re-types (completion.rules).
        result.text, result.end = insertion.text, offset + insertion.replaces
        if prompt.secrets_scrubbed and reinserts_placeholder(result.text):
            # The model copied a placeholder: inserting it would overwrite a secret.
            result.text, result.end = "", offset
            result.skipped = "the completion would re-insert a scrubbed secret"
        if result.text and line_ending_at(document, offset) == "\r\n":
            result.text = result.text.replace("\n", "\r\n")  # the document's own endings
        timing.postprocess_ms = (time.perf_counter() - post_started) * 1000
        timing.total_ms = (time.perf_counter() - started) * 1000
        self.stats.record_latency(timing.total_ms, timing.engine_ms)
        if not result.text:
            self.stats.add(empty=1)
        return result

    async def generate(
        self,
        prompt: Prompt,
        context: Context,
        timing: Timing,
        progress: Callable[[str], None] | None = None,
        session: str | None = None,
        seed: int | None = None,
    ) -> tuple[str, GenerationUsage]:
        """Stream from the engine until the cutter has the answer."""
        request = self._request(prompt, context, session, seed)
        usage = GenerationUsage()
        cutter = StreamCutter(stop=prompt.stop, multiline=context.multiline, context=context)
        stream = self.engine.stream(request, usage)
        async with self._engine_call(stream, prompt, timing, usage, lambda: cutter.done) as begun:
            async for piece in stream:
                if not timing.first_token_ms:
                    timing.first_token_ms = (time.perf_counter() - begun) * 1000
                done = cutter.feed(piece)
                if progress is not None:
                    progress(cutter.shown())
                if done:
                    break
        return cutter.text, usage

    def choices_sampler(
        self, document: Document, offset: int, file_path: str | None = None
    ) -> Callable[[int, int], Awaitable[list[Completion]]] | None:
        """``(n, seed) ->`` n sampled answers from one engine call, when the engine
        can draw several at once (engines.base.SamplesSeveral); else None."""
        engine = self.engine
        if not isinstance(engine, SamplesSeveral) or not engine.samples_several:
            return None

        async def sample(n: int, seed: int) -> list[Completion]:
            return await self.complete_choices(engine, document, offset, file_path, n, seed)

        return sample

    async def complete_choices(
        self,
        engine: SamplesSeveral,
        document: Document,
        offset: int,
        file_path: str | None,
        n: int,
        seed: int,
    ) -> list[Completion]:
        """One post-processed answer per choice of one sampled call with ``n``.

        Fewer than ``n`` when the server ignored ``n`` (one, then), none for a
        skipped context. Each choice has its own stream cutter; the call is
        closed once every choice has its answer.
        """
        started = time.perf_counter()
        self.stats.add(requests=1)
        context = self.make_context(document, offset, file_path)
        if context.skip_reason:
            return []
        context, prompt = await self.fit_prompt(document, offset, file_path, context)
        timing = Timing(context_ms=(time.perf_counter() - started) * 1000)
        session = session_key(self.workspace_uri, document.uri)
        request = self._request(prompt, context, session, seed)
        usage = GenerationUsage()
        cutters: dict[int, StreamCutter] = {}

        def all_cut() -> bool:
            return bool(cutters) and all(cutter.done for cutter in cutters.values())

        stream = engine.stream_choices(request, n, usage)
        async with self._engine_call(stream, prompt, timing, usage, all_cut) as begun:
            async for index, piece in stream:
                if not timing.first_token_ms:
                    timing.first_token_ms = (time.perf_counter() - begun) * 1000
                cutter = cutters.get(index)
                if cutter is None:
                    cutter = cutters[index] = StreamCutter(
                        stop=prompt.stop, multiline=context.multiline, context=context
                    )
                if not cutter.done:
                    cutter.feed(piece)
                if len(cutters) == n and all_cut():
                    break
        self.counter.observe(prompt.text, usage.prompt_tokens_total)
        # Choices that streamed nothing still count: the server did answer them.
        count = max([usage.choices, *(index + 1 for index in cutters)])
        return [
            self._finish(
                Completion(
                    text="",
                    start=offset,
                    end=offset,
                    multiline=context.multiline,
                    template=prompt.template,
                    timing=dataclasses.replace(timing),
                ),
                cutters[index].text if index in cutters else "",
                usage,
                document,
                context,
                prompt,
                started,
            )
            for index in range(count)
        ]

    @contextlib.asynccontextmanager
    async def _engine_call(
        self,
        stream: AsyncIterator[object],
        prompt: Prompt,
        timing: Timing,
        usage: GenerationUsage,
        cut: Callable[[], bool],
    ) -> AsyncGenerator[float, None]:
        """One engine call around reading ``stream`` (yields when it began): the
        stream closed, the time and the stats counted, however it ends, and the
        replica that served it reported when it ends well."""
        self.stats.add(engine_calls=1, secrets_scrubbed=prompt.secrets_scrubbed)
        begun = time.perf_counter()
        try:
            yield begun
            if usage.endpoint and self.on_served is not None:
                self.on_served(usage.endpoint)
        except asyncio.CancelledError:
            self.stats.add(cancelled=1)
            raise
        finally:
            with contextlib.suppress(RuntimeError):
                await _aclose(stream)
            timing.engine_ms = (time.perf_counter() - begun) * 1000
            self._account(usage, cut())

    def _account(self, usage: GenerationUsage, cut: bool) -> None:
        """The stats of one finished engine call (``cut``: post-processing closed it)."""
        if cut and usage.finish_reason == "cancelled":
            # Post-processing had the answer: the stop was ours, not a cancel.
            usage.finish_reason = "cut"
        if usage.prompt_tokens:  # 0: cancelled or failed before the prompt was evaluated
            self.stats.record_prompt(usage.prompt_tokens, usage.prompt_tokens_total)
        self.stats.add(
            prompt_tokens=usage.prompt_tokens,
            prompt_tokens_total=usage.prompt_tokens_total,
            generated_tokens=usage.generated_tokens,
        )

    def _request(
        self, prompt: Prompt, context: Context, session: str | None, seed: int | None
    ) -> GenerationRequest:
        """The engine request for ``prompt``; a ``seed`` samples (an alternative)."""
        temperature = self.options.temperature
        if seed is not None and temperature <= 0:
            temperature = self.options.alternatives_temperature
        return GenerationRequest(
            prompt=prompt.text,
            max_tokens=self.max_tokens(context.multiline),
            temperature=temperature,
            top_p=self.options.top_p,
            seed=seed,
            stop=prompt.stop,
            prefix=prompt.prefix,
            suffix=prompt.suffix,
            middle_start=prompt.middle_start,
            session_key=session,
            extra_files=prompt.files,
            extra_chars=prompt.files_chars,
        )


async def _aclose(stream: object) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
