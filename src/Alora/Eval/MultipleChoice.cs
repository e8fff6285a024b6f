using Alora.Data;
using Alora.Tokenization;

namespace Alora.Eval;

/// <summary>
/// One log-likelihood request in token ids: log p(Continuation | Context). Context already holds the
/// model's prefix token (bos) when it has one, so Context + Continuation is exactly the scored sequence.
/// </summary>
public readonly record struct LoglikelihoodRequest(int[] Context, int[] Continuation);

/// <summary>Scores requests: the sum of log p of each continuation's tokens (nats), in request order.</summary>
/// <remarks>The real implementation is <see cref="CausalLMScorer"/>; tests substitute a stub.</remarks>
public interface ILogLikelihoodScorer
{
    double[] Score(IReadOnlyList<LoglikelihoodRequest> requests, IProgress<EvalProgress>? progress = null);
}

/// <summary>One item's outcome: its gold index, the two predictions and the log-likelihood of every choice.</summary>
public sealed record McqItemScore(int Index, string? Id, int Answer, int Pred, int PredNorm, double[] LogLikelihoods)
{
    public bool Correct => Pred == Answer;
    public bool CorrectNorm => PredNorm == Answer;
}

/// <summary>Accuracy by log-likelihood (lm-evaluation-harness's multiple_choice output type); stderrs are NaN when N &lt; 2.</summary>
public sealed record McqResult(
    string Task,
    int N,
    double Acc,
    double AccNorm,
    double AccStderr,
    double AccNormStderr,
    IReadOnlyList<McqItemScore> PerItem
);

/// <summary>
/// Multiple-choice evaluation as lm-evaluation-harness does it (api/task.py, output_type multiple_choice):
/// for each item and choice, context = prompt, continuation = " " + choice (target_delimiter " ");
/// acc = argmax of the summed log-likelihoods, acc_norm = argmax of the sums divided by the choice's length.
/// </summary>
public static class MultipleChoice
{
    /// <summary>Scores every item's choices with <paramref name="scorer"/> and aggregates.</summary>
    public static McqResult Evaluate(
        string task,
        IReadOnlyList<McqItem> items,
        TextTokenizer tokenizer,
        ILogLikelihoodScorer scorer,
        IProgress<EvalProgress>? progress = null
    )
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(scorer);
        if (items.Count == 0)
            throw new AloraException($"{task}: no items to score");
        var requests = new List<LoglikelihoodRequest>();
        foreach (var item in items)
        {
            if (item.Choices.Count == 0)
                throw new AloraException($"{task}: item {item.Id ?? "?"} has no choices");
            foreach (var choice in item.Choices)
            {
                var r = EncodePair(tokenizer, item.Prompt, " " + choice);
                if (r.Continuation.Length == 0)
                    throw new AloraException($"{task}: item {item.Id ?? "?"}: choice '{choice}' encodes to no token after its context");
                requests.Add(r);
            }
        }
        var lls = scorer.Score(requests, progress);
        if (lls.Length != requests.Count)
            throw new InvalidOperationException($"the scorer returned {lls.Length} scores for {requests.Count} requests");
        return Aggregate(task, items, lls);
    }

    /// <summary>
    /// lm-eval's TemplateLM._encode_pair: trailing whitespace of the context moves onto the continuation,
    /// whole = enc(context + continuation), context_enc = enc(context), continuation_enc = whole[len(context_enc):]
    /// (so a BPE merge across the boundary is attributed to the continuation). Context gets the prefix token
    /// as lm-eval's tok_encode gives it: bos when the tokenizer adds one by default (lm-eval's add_bos_token=None
    /// follows the tokenizer: Llama yes, GPT-2 no). An empty context is [bos, or eos when there is no bos]
    /// and the continuation is encoded alone (lm-eval's loglikelihood, prefix_token_id).
    /// </summary>
    public static LoglikelihoodRequest EncodePair(TextTokenizer tokenizer, string context, string continuation)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        int? prefix = tokenizer.BosId ?? tokenizer.EosId;
        if (context.Length == 0)
            return new LoglikelihoodRequest(
                prefix is { } p ? [p] : throw new AloraException("an empty context needs a bos or eos token"),
                tokenizer.Encode(continuation)
            );
        int keep = PyRStripLength(context);
        if (keep < context.Length)
        {
            continuation = context[keep..] + continuation;
            context = context[..keep];
        }
        var whole = tokenizer.Encode(context + continuation);
        var contextEnc = tokenizer.Encode(context);
        var continuationEnc = whole[Math.Min(contextEnc.Length, whole.Length)..];
        int[] bos = tokenizer.AddBos && tokenizer.BosId is { } b ? [b] : [];
        // A whitespace-only context leaves nothing to condition on; lm-eval asserts there, we fall back to its prefix token.
        if (bos.Length == 0 && contextEnc.Length == 0 && prefix is { } q)
            bos = [q];
        return new LoglikelihoodRequest([.. bos, .. contextEnc], continuationEnc);
    }

    /// <summary>From one log-likelihood per choice (items in order, choices in order) to acc, acc_norm and their stderrs.</summary>
    public static McqResult Aggregate(string task, IReadOnlyList<McqItem> items, IReadOnlyList<double> logLikelihoods)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(logLikelihoods);
        int expected = items.Sum(i => i.Choices.Count);
        if (logLikelihoods.Count != expected)
            throw new ArgumentException($"{logLikelihoods.Count} log-likelihoods for {expected} choices", nameof(logLikelihoods));
        var per = new List<McqItemScore>(items.Count);
        int at = 0;
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var lls = new double[item.Choices.Count];
            var normed = new double[lls.Length];
            for (int c = 0; c < lls.Length; c++)
            {
                lls[c] = logLikelihoods[at++];
                normed[c] = lls[c] / CompletionLength(item.Choices[c]);
            }
            per.Add(new McqItemScore(i, item.Id, item.Answer, ArgMax(lls), ArgMax(normed), lls));
        }
        double acc = per.Average(p => p.Correct ? 1.0 : 0.0),
            accNorm = per.Average(p => p.CorrectNorm ? 1.0 : 0.0);
        return new McqResult(task, per.Count, acc, accNorm, MeanStderr(acc, per.Count), MeanStderr(accNorm, per.Count), per);
    }

    /// <summary>
    /// lm-eval's completion_len = float(len(choice)) over doc_to_choice's strings, i.e. WITHOUT the " "
    /// target delimiter that the request prepends, counted in Unicode code points as Python's len does
    /// (a C# string's Length counts UTF-16 units, which differs for characters outside the BMP).
    /// </summary>
    public static double CompletionLength(string choice)
    {
        ArgumentNullException.ThrowIfNull(choice);
        int n = 0;
        foreach (var _ in choice.EnumerateRunes())
            n++;
        return n;
    }

    /// <summary>numpy.argmax: the first maximum wins ties, and the first NaN wins over everything.</summary>
    public static int ArgMax(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int best = 0;
        for (int i = 0; i < values.Count; i++)
        {
            if (double.IsNaN(values[i]))
                return i;
            if (values[i] > values[best])
                best = i;
        }
        return best;
    }

    /// <summary>lm-eval's mean_stderr of 0/1 scores: sample_stddev / sqrt(n) = sqrt(p(1-p)/(n-1)); NaN below two items.</summary>
    public static double MeanStderr(double p, int n) => n < 2 ? double.NaN : Math.Sqrt(p * (1 - p) / (n - 1));

    /// <summary>Length of the text left by Python's str.rstrip() (whitespace as str.isspace, including \x1c-\x1f).</summary>
    static int PyRStripLength(string s)
    {
        int n = s.Length;
        while (n > 0 && (char.IsWhiteSpace(s[n - 1]) || s[n - 1] is >= '\u001C' and <= '\u001F'))
            n--;
        return n;
    }
}
