using System.Diagnostics;
using Alora.Data;
using Alora.Models;
using Alora.Tokenization;

namespace Alora.Eval;

/// <summary>A general corpus for perplexity; <see cref="Name"/> is its key in the result.</summary>
public sealed record SuiteCorpus(string Name, string Path);

/// <summary>A multiple-choice file; <see cref="Task"/> is one of <see cref="McqDatasets.Tasks"/>, <see cref="Name"/> its key in the result.</summary>
public sealed record SuiteTask(string Name, string Task, string Path, string? LabelsPath = null);

/// <summary>What one evaluation call measures: perplexity on zero or more corpora and accuracy on zero or more tasks.</summary>
public sealed record EvalSuiteSpec
{
    public IReadOnlyList<SuiteCorpus> Corpora { get; init; } = [];
    public IReadOnlyList<SuiteTask> Tasks { get; init; } = [];

    /// <summary>Score only the first N documents of each corpus and the first N items of each task.</summary>
    public int? Limit { get; init; }
    public PerplexityOptions Perplexity { get; init; } = new();

    /// <summary>Rows per forward pass when scoring choices.</summary>
    public int McqBatchSize { get; init; } = 16;
}

/// <summary>A corpus's result; <see cref="Available"/> counts the file's documents before --limit.</summary>
public sealed record SuitePerplexity(string Name, string Path, PerplexityResult Result, double Seconds, int Available);

/// <summary>A task's result; <see cref="Available"/> counts the file's items before --limit.</summary>
public sealed record SuiteMcq(string Name, string Path, string? LabelsPath, McqResult Result, double Seconds, int Available);

public sealed record EvalSuiteResult(IReadOnlyList<SuitePerplexity> Perplexity, IReadOnlyList<SuiteMcq> Tasks, int? Limit);

/// <summary>Progress of one part of a suite (a corpus or a task, by its name).</summary>
public readonly record struct SuiteProgress(string Part, EvalProgress Progress);

/// <summary>General perplexity plus multiple-choice accuracy in one call, for the CLI's `eval suite` and for experiment runners.</summary>
public static class EvalSuite
{
    public static EvalSuiteResult Run(CausalLM model, TextTokenizer? tokenizer, EvalSuiteSpec spec, IProgress<SuiteProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(spec);
        Validate(spec);
        if (spec.Tasks.Count > 0 && tokenizer is null)
            throw new AloraException("multiple-choice tasks need the model's tokenizer (tokenizer.json or tokenizer.model)");
        // Read and tokenize every file first, so a bad path in the last part fails before minutes of scoring.
        var corpora = spec
            .Corpora.Select(c =>
            {
                var all = TextCorpus.Read(c.Path);
                return (Spec: c, Docs: Sequences(Take(all, spec.Limit), tokenizer, model.VocabSize, c.Path), Available: all.Count);
            })
            .ToList();
        var tasks = spec
            .Tasks.Select(t =>
            {
                var all = McqDatasets.Read(t.Task, t.Path, t.LabelsPath);
                return (Spec: t, Items: Take(all, spec.Limit), Available: all.Count);
            })
            .ToList();

        var ppl = new List<SuitePerplexity>();
        foreach (var (c, docs, available) in corpora)
        {
            var clock = Stopwatch.StartNew();
            var result = Perplexity.Evaluate(model, docs, spec.Perplexity, Relay(progress, c.Name));
            ppl.Add(new SuitePerplexity(c.Name, c.Path, result, clock.Elapsed.TotalSeconds, available));
        }
        var mcq = new List<SuiteMcq>();
        var scorer = new CausalLMScorer(model, spec.McqBatchSize);
        foreach (var (t, items, available) in tasks)
        {
            var clock = Stopwatch.StartNew();
            var result = MultipleChoice.Evaluate(t.Task, items, tokenizer!, scorer, Relay(progress, t.Name));
            mcq.Add(new SuiteMcq(t.Name, t.Path, t.LabelsPath, result, clock.Elapsed.TotalSeconds, available));
        }
        return new EvalSuiteResult(ppl, mcq, spec.Limit);
    }

    /// <summary>
    /// Sequences to score for a corpus: pre-tokenized input_ids as given (no prefix added), text tokenized
    /// whole with bos in front (eos when the model has no bos, lm-eval's prefix_token_id) so every token is predicted.
    /// </summary>
    public static List<ScoredSequence> Sequences(IReadOnlyList<CorpusDocument> docs, TextTokenizer? tokenizer, int vocab, string source)
    {
        ArgumentNullException.ThrowIfNull(docs);
        var list = new List<ScoredSequence>(docs.Count);
        if (docs.All(d => d.InputIds is not null))
        {
            for (int i = 0; i < docs.Count; i++)
            {
                var ids = docs[i].InputIds!;
                if (ids.Any(t => t < 0 || t >= vocab))
                    throw new AloraException($"{source}: document {i + 1} has a token id outside the model's vocabulary [0, {vocab})");
                list.Add(new ScoredSequence(ids.Select(t => (long)t).ToArray()));
            }
            return list;
        }
        if (tokenizer is null)
            throw new AloraException($"{source}: text documents need the model's tokenizer (tokenizer.json or tokenizer.model)");
        int? prefix = tokenizer.BosId ?? tokenizer.EosId;
        for (int i = 0; i < docs.Count; i++)
        {
            var ids = tokenizer.Encode(docs[i].Text!);
            // a tokenizer larger than the model's embedding would fail deep inside the forward pass
            if (ids.Any(t => t < 0 || t >= vocab) || prefix is < 0 || prefix >= vocab)
                throw new AloraException(
                    $"{source}: document {i + 1} encodes to a token id outside the model's vocabulary [0, {vocab}): does the tokenizer belong to this model?"
                );
            list.Add(Perplexity.FromText(docs[i].Text!, ids, prefix));
        }
        return list;
    }

    static void Validate(EvalSuiteSpec spec)
    {
        if (spec.Corpora.Count == 0 && spec.Tasks.Count == 0)
            throw new AloraException("nothing to evaluate: give at least one corpus (--ppl) or task (--task)");
        if (spec.Limit is < 1)
            throw new AloraException($"--limit must be at least 1 (got {spec.Limit})");
        if (spec.Perplexity.BatchSize < 1 || spec.McqBatchSize < 1)
            throw new AloraException($"--batch-size must be at least 1 (got {Math.Min(spec.Perplexity.BatchSize, spec.McqBatchSize)})");
        if (spec.Perplexity.MaxLength is < 1)
            throw new AloraException($"--max-length must be at least 1 (got {spec.Perplexity.MaxLength})");
        if (spec.Perplexity.Stride is < 1)
            throw new AloraException($"--stride must be at least 1 (got {spec.Perplexity.Stride})");
        foreach (var dup in spec.Corpora.GroupBy(c => c.Name).Where(g => g.Count() > 1))
            throw new AloraException($"two corpora are named '{dup.Key}': name them (--ppl NAME=FILE)");
        foreach (var dup in spec.Tasks.GroupBy(t => t.Name).Where(g => g.Count() > 1))
            throw new AloraException($"two tasks are named '{dup.Key}': name them (--task TASK/NAME=FILE)");
        foreach (var t in spec.Tasks.Where(t => !McqDatasets.Tasks.Contains(t.Task)))
            throw new AloraException($"unknown multiple-choice task '{t.Task}': expected one of {string.Join(", ", McqDatasets.Tasks)}");
    }

    static IReadOnlyList<T> Take<T>(IReadOnlyList<T> list, int? limit) => limit is { } n && n < list.Count ? list.Take(n).ToList() : list;

    static SyncProgress<EvalProgress>? Relay(IProgress<SuiteProgress>? outer, string part) =>
        outer is null ? null : new SyncProgress<EvalProgress>(e => outer.Report(new SuiteProgress(part, e)));

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; posts to the thread pool and can arrive late or out of order).</summary>
    sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
