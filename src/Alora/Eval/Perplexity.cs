using System.Text;
using System.Text.RegularExpressions;
using Alora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Eval;

/// <summary>A sequence to score: its ids and the first position whose token is predicted (1 when ids[0] is a prefix token).</summary>
public sealed record ScoredSequence(long[] Ids, string? Text = null)
{
    public int Predicted => Math.Max(0, Ids.Length - 1);
}

public sealed record PerplexityOptions
{
    /// <summary>Window length in tokens; default the model's context length.</summary>
    public int? MaxLength { get; init; }

    /// <summary>Tokens newly predicted per window after the first; default MaxLength (disjoint windows, as lm-evaluation-harness).</summary>
    public int? Stride { get; init; }
    public int BatchSize { get; init; } = 8;
}

public sealed record DocumentScore(int Index, long Tokens, double NllSum)
{
    public double MeanNll => Tokens == 0 ? double.NaN : NllSum / Tokens;
}

/// <summary>Corpus-level results with lm-evaluation-harness's definitions (sums over documents, natural-log NLL).</summary>
public sealed record PerplexityResult(
    int Documents,
    long Tokens,
    double NllSum,
    double Perplexity,
    long? Words,
    long? Bytes,
    double? WordPerplexity,
    double? BitsPerByte,
    int MaxLength,
    int Stride,
    IReadOnlyList<DocumentScore> PerDocument
)
{
    public double MeanNll => NllSum / Tokens;
}

public readonly record struct EvalProgress(long Done, long Total, string Unit);

public static class Perplexity
{
    /// <summary>
    /// Builds the sequence for a text: [prefix] + tokens, where the prefix is bos, or eos when the
    /// model has no bos (lm-evaluation-harness's prefix_token_id), so every token of the text is predicted.
    /// </summary>
    public static ScoredSequence FromText(string text, int[] tokens, int? prefixId)
    {
        long[] ids = prefixId is { } p ? [p, .. tokens.Select(t => (long)t)] : tokens.Select(t => (long)t).ToArray();
        return new ScoredSequence(ids, text);
    }

    /// <summary>Words as lm-evaluation-harness counts them: len(re.split(r"\s+", doc)).</summary>
    public static long CountWords(string text) => Regex.Split(text, @"\s+").Length;

    public static PerplexityResult Evaluate(
        CausalLM model,
        IReadOnlyList<ScoredSequence> docs,
        PerplexityOptions options,
        IProgress<EvalProgress>? progress = null
    )
    {
        if (docs.Count == 0)
            throw new AloraException("no documents to score");
        if (options.BatchSize < 1)
            throw new AloraException($"--batch-size must be at least 1 (got {options.BatchSize})");
        int maxLength = options.MaxLength ?? model.ContextLength;
        int stride = options.Stride ?? maxLength;
        if (maxLength < 1)
            throw new AloraException($"--max-length must be at least 1 (got {maxLength})");
        if (stride < 1 || stride > maxLength)
            throw new AloraException($"--stride must be between 1 and --max-length {maxLength} (got {stride})");
        if (maxLength > model.ContextLength)
            throw new AloraException($"--max-length {maxLength} exceeds the model's context length {model.ContextLength}");

        var windows = docs.SelectMany((d, i) => Windows(d.Ids, maxLength, stride).Select(w => (Doc: i, w.Start, w.End, w.Predict))).ToList();
        var nll = new double[docs.Count];
        var device = model.parameters().First().device;
        bool wasTraining = model.training;
        model.eval();
        using (no_grad())
        {
            for (int b = 0; b < windows.Count; b += options.BatchSize)
            {
                using var scope = NewDisposeScope();
                var batch = windows.Skip(b).Take(options.BatchSize).ToList();
                int len = batch.Max(w => w.End - w.Start);
                var input = new long[batch.Count * len];
                var target = new long[batch.Count * len];
                for (int r = 0; r < batch.Count; r++)
                {
                    var (doc, start, end, _) = batch[r];
                    var ids = docs[doc].Ids;
                    for (int j = 0; j < end - start; j++)
                    {
                        input[r * len + j] = ids[start + j];
                        target[r * len + j] = ids[start + j + 1];
                    }
                }
                var perPos = TokenNll
                    .PerPosition(model, tensor(input, [batch.Count, len], device: device), tensor(target, [batch.Count, len], device: device))
                    .to_type(ScalarType.Float64)
                    .cpu()
                    .data<double>()
                    .ToArray(); // [B*L]
                for (int r = 0; r < batch.Count; r++)
                {
                    var (doc, start, end, predict) = batch[r];
                    int n = end - start;
                    for (int j = n - predict; j < n; j++)
                        nll[doc] += perPos[r * len + j];
                }
                progress?.Report(new EvalProgress(Math.Min(b + options.BatchSize, windows.Count), windows.Count, "windows"));
            }
        }
        if (wasTraining)
            model.train();
        return Summarise(docs, nll, maxLength, stride);
    }

    /// <summary>
    /// Windows over ids that predict ids[1..]: the first predicts up to maxLength tokens from ids[0..];
    /// each next one predicts the following `stride` tokens with up to maxLength tokens of context
    /// (stride = maxLength is lm-evaluation-harness's get_rolling_token_windows with context_len 1).
    /// A window is input ids[Start..End) whose last Predict positions are scored.
    /// </summary>
    public static IEnumerable<(int Start, int End, int Predict)> Windows(long[] ids, int maxLength, int stride)
    {
        int n = ids.Length;
        if (n < 2)
            yield break;
        int a = 1,
            b = Math.Min(1 + maxLength, n); // predict ids[a..b)
        while (true)
        {
            int start = Math.Max(0, b - 1 - maxLength);
            yield return (start, b - 1, b - a);
            if (b >= n)
                yield break;
            a = b;
            b = Math.Min(a + stride, n);
        }
    }

    static PerplexityResult Summarise(IReadOnlyList<ScoredSequence> docs, double[] nll, int maxLength, int stride)
    {
        var per = docs.Select((d, i) => new DocumentScore(i, d.Predicted, nll[i])).ToList();
        long tokens = per.Sum(p => p.Tokens);
        double sum = nll.Sum();
        if (tokens == 0)
            throw new AloraException("no token to predict: every document is shorter than two tokens");
        bool hasText = docs.All(d => d.Text is not null);
        long? words = hasText ? docs.Sum(d => CountWords(d.Text!)) : null;
        long? bytes = hasText ? docs.Sum(d => (long)Encoding.UTF8.GetByteCount(d.Text!)) : null;
        return new PerplexityResult(
            docs.Count,
            tokens,
            sum,
            Math.Exp(sum / tokens),
            words,
            bytes,
            words is > 0 ? Math.Exp(sum / words.Value) : null,
            bytes is > 0 ? sum / bytes.Value / Math.Log(2) : null,
            maxLength,
            stride,
            per
        );
    }
}
