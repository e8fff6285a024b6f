using System.Diagnostics;
using System.Text.Json.Nodes;
using Alora.Eval;
using Alora.Generation;
using Alora.Models;
using Alora.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Bench;

/// <summary>Shape and workload of <see cref="DecodeBench"/>; the CLI options of <c>alora bench decode</c> have these names.</summary>
public sealed record DecodeBenchOptions
{
    /// <summary>The model's shape (vocab, hidden, layers, heads, kv heads, intermediate), as the importance bench's.</summary>
    public ImportanceBenchOptions Model { get; init; } = new();

    /// <summary>Multiple-choice items of each layout.</summary>
    public int Items { get; init; } = 64;

    /// <summary>Items per forward pass (the scorer's --batch-size).</summary>
    public int Batch { get; init; } = 16;
    public int NewTokens { get; init; } = 256;
    public int PromptTokens { get; init; } = 16;

    /// <summary>Timed repetitions; each time reported is the median.</summary>
    public int Rounds { get; init; } = 3;
    public int Threads { get; init; } = 1;
    public long Seed { get; init; } = 42;

    public void Validate()
    {
        Model.Validate();
        foreach (var (v, name) in new[] { (Items, "items"), (Batch, "batch"), (NewTokens, "new-tokens"), (PromptTokens, "prompt-tokens") })
            if (v < 1)
                throw new AloraException($"--{name} must be at least 1 (got {v})");
        if (Rounds < 1 || Threads < 1)
            throw new AloraException("--rounds and --threads must be at least 1");
        if (Model.Heads % Model.KvHeads != 0)
            throw new AloraException($"--heads {Model.Heads} must be a multiple of --kv-heads {Model.KvHeads}");
    }
}

/// <summary>
/// What the key/value cache buys, each against the algorithm it replaced, in one run on one model (random weights):
/// multiple-choice scoring of SciQ-layout items (a support paragraph, four short answers) and MedMCQA-layout items
/// (question and options listed in the prompt, the letters as one-token choices) by the shared-context scorer and
/// by the row-per-choice scorer, and greedy generation with the cache against re-reading the whole prefix per token.
/// Both sides must agree (scores within 1e-4, identical tokens), or the bench fails.
/// </summary>
public static class DecodeBench
{
    public static JsonObject Run(DecodeBenchOptions o, IProgress<string>? log = null)
    {
        o.Validate();
        TorchRuntime.Initialize();
        int before = get_num_threads();
        set_num_threads(o.Threads);
        try
        {
            random.manual_seed(o.Seed);
            using var model = new LlamaForCausalLM(ImportanceBench.ModelConfig(o.Model with { Seq = 2048 }));
            model.InitWeights(0.02);
            model.eval();
            var rng = new Random(unchecked((int)o.Seed));
            var result = new JsonObject
            {
                ["model"] = new JsonObject
                {
                    ["vocab"] = o.Model.Vocab,
                    ["hidden"] = o.Model.Hidden,
                    ["layers"] = o.Model.Layers,
                    ["heads"] = o.Model.Heads,
                    ["kv_heads"] = o.Model.KvHeads,
                    ["intermediate"] = o.Model.Intermediate,
                },
                ["threads"] = o.Threads,
                ["rounds"] = o.Rounds,
            };
            // SciQ: support of 80-240 tokens + question; answers of 1-4 tokens. MedMCQA: 40-120-token prompt, letters.
            result["sciq"] = Scoring(model, o, SciQItems(rng, o), "sciq", log);
            result["medmcqa"] = Scoring(model, o, MedMcqaItems(rng, o), "medmcqa", log);
            result["generate"] = Generation(model, o, rng, log);
            return result;
        }
        finally
        {
            set_num_threads(before);
        }
    }

    static JsonObject Scoring(CausalLM model, DecodeBenchOptions o, List<LoglikelihoodRequest> requests, string name, IProgress<string>? log)
    {
        var shared = new CausalLMScorer(model, o.Batch);
        var rows = new CausalLMScorer(model, o.Batch) { ShareContexts = false };
        double[] a = [],
            b = [];
        var (tShared, tRows) = Interleaved(o.Rounds, () => a = shared.Score(requests), () => b = rows.Score(requests));
        double worst = a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
        if (worst > 1e-4)
            throw new AloraException($"bench decode: {name} scores of the two scorers differ by {worst}");
        log?.Report($"{name}: shared contexts {tShared:F3} s, a row per choice {tRows:F3} s, speed-up {tRows / tShared:F2}x");
        return new JsonObject
        {
            ["items"] = o.Items,
            ["requests"] = requests.Count,
            ["context_tokens"] = requests.Where((_, i) => i % 4 == 0).Sum(r => r.Context.Length),
            ["shared_context_seconds"] = tShared,
            ["row_per_choice_seconds"] = tRows,
            ["speedup"] = tRows / tShared,
            ["max_abs_difference"] = worst,
        };
    }

    static JsonObject Generation(CausalLM model, DecodeBenchOptions o, Random rng, IProgress<string>? log)
    {
        var prompt = Enumerable.Range(0, o.PromptTokens).Select(_ => rng.Next(3, o.Model.Vocab)).ToArray();
        IReadOnlyList<int> cached = [],
            reread = [];
        var (tCached, tReread) = Interleaved(
            o.Rounds,
            () => cached = GreedyDecoder.Generate(model, prompt, o.NewTokens),
            () => reread = Reread(model, prompt, o.NewTokens)
        );
        if (!cached.SequenceEqual(reread))
            throw new AloraException("bench decode: cached and re-reading greedy decoding chose different tokens");
        log?.Report($"generate {o.NewTokens} tokens: cache {tCached:F3} s, re-reading {tReread:F3} s, speed-up {tReread / tCached:F2}x");
        return new JsonObject
        {
            ["prompt_tokens"] = o.PromptTokens,
            ["new_tokens"] = o.NewTokens,
            ["cached_seconds"] = tCached,
            ["reread_seconds"] = tReread,
            ["cached_tokens_per_second"] = o.NewTokens / tCached,
            ["speedup"] = tReread / tCached,
        };
    }

    /// <summary>Greedy decoding as it was before the cache: every step reads the whole prefix again.</summary>
    static List<int> Reread(CausalLM model, int[] prompt, int n)
    {
        var ids = prompt.Select(i => (long)i).ToList();
        using var _ = no_grad();
        for (int step = 0; step < n; step++)
        {
            using var scope = NewDisposeScope();
            var logits = model.forward(tensor(ids.ToArray()).unsqueeze(0)); // [1,T,V]
            ids.Add(logits[0, -1].argmax().item<long>());
        }
        return ids.Skip(prompt.Length).Select(i => (int)i).ToList();
    }

    /// <summary>Median seconds of each of two actions over rounds, alternating which goes first (load drift hits both).</summary>
    static (double A, double B) Interleaved(int rounds, Action a, Action b)
    {
        a(); // warm-up: first-call allocations and JIT
        b();
        var ta = new List<double>();
        var tb = new List<double>();
        for (int r = 0; r < rounds; r++)
            foreach (var (act, times) in r % 2 == 0 ? new[] { (a, ta), (b, tb) } : new[] { (b, tb), (a, ta) })
            {
                var clock = Stopwatch.StartNew();
                act();
                times.Add(clock.Elapsed.TotalSeconds);
            }
        return (Median(ta), Median(tb));
    }

    static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    static int[] Ids(Random rng, int n, int vocab) => Enumerable.Range(0, n).Select(_ => rng.Next(3, vocab)).ToArray();

    static List<LoglikelihoodRequest> SciQItems(Random rng, DecodeBenchOptions o)
    {
        var list = new List<LoglikelihoodRequest>();
        for (int i = 0; i < o.Items; i++)
        {
            var context = Ids(rng, 90 + rng.Next(160), o.Model.Vocab);
            for (int c = 0; c < 4; c++)
                list.Add(new LoglikelihoodRequest(context, Ids(rng, 1 + rng.Next(4), o.Model.Vocab)));
        }
        return list;
    }

    static List<LoglikelihoodRequest> MedMcqaItems(Random rng, DecodeBenchOptions o)
    {
        var list = new List<LoglikelihoodRequest>();
        for (int i = 0; i < o.Items; i++)
        {
            var context = Ids(rng, 40 + rng.Next(80), o.Model.Vocab);
            for (int c = 0; c < 4; c++)
                list.Add(new LoglikelihoodRequest(context, [3 + c])); // " A".." D": one token each
        }
        return list;
    }
}
