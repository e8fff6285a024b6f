using Alora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Eval;

/// <summary>
/// Log-likelihoods of continuations under a <see cref="CausalLM"/>, batched as lm-evaluation-harness's
/// HFLM._loglikelihood_tokens: each request is one row (context + continuation, left-truncated to the
/// model's context), rows are sorted longest first and right-padded, and only the continuation positions
/// go through the output head (<see cref="TokenNll.AtPositions"/>).
/// </summary>
/// <remarks>
/// Requests with the same context (an item's choices) read it once: <see cref="SharedContextBatch"/> keeps its keys
/// and values and scores every choice's continuation from them, which gives each choice the log-likelihood of its
/// own context + continuation row (lm-eval's token split unchanged) at a fraction of the work when the context is
/// long and the choices short. A request longer than the model's context is left-truncated on its own row, as lm-eval.
/// </remarks>
public sealed class CausalLMScorer : ILogLikelihoodScorer
{
    readonly CausalLM _model;

    public CausalLMScorer(CausalLM model, int batchSize = 16)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        if (batchSize < 1)
            throw new AloraException($"--batch-size must be at least 1 (got {batchSize})");
        BatchSize = batchSize;
    }

    /// <summary>Items (distinct contexts) per forward pass; the left-truncated rows of over-long requests likewise.</summary>
    public int BatchSize { get; }

    /// <summary>
    /// False scores every request on its own context + continuation row (identical rows shared), the scorer before
    /// the key/value cache: <c>alora bench decode</c> measures the shared-context scorer against it.
    /// </summary>
    internal bool ShareContexts { get; init; } = true;

    /// <summary>
    /// The model input and the scored tokens of a request: lm-eval's
    /// inp = (context_enc + continuation_enc)[-(max_length + 1):][:-1]; the last len(continuation) positions
    /// of inp predict the continuation. A continuation longer than the context length is an error (lm-eval asserts).
    /// </summary>
    public static long[] Input(LoglikelihoodRequest r, int contextLength)
    {
        if (r.Continuation.Length == 0)
            throw new AloraException("a continuation has no token to score");
        if (r.Context.Length == 0)
            throw new AloraException("a request needs at least one context token (bos) before its continuation");
        if (r.Continuation.Length > contextLength)
            throw new AloraException($"a continuation of {r.Continuation.Length} tokens does not fit the model's context of {contextLength}");
        int total = r.Context.Length + r.Continuation.Length;
        int keep = Math.Min(total, contextLength + 1); // tokens kept on the right
        var input = new long[keep - 1];
        for (int j = 0; j < input.Length; j++)
        {
            int k = total - keep + j; // index into context ++ continuation
            input[j] = k < r.Context.Length ? r.Context[k] : r.Continuation[k - r.Context.Length];
        }
        return input;
    }

    public double[] Score(IReadOnlyList<LoglikelihoodRequest> requests, IProgress<EvalProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(requests);
        int vocab = _model.VocabSize,
            ctx = _model.ContextLength;
        var groups = new List<ContextGroup>();
        var groupOf = new Dictionary<int[], ContextGroup>(SequenceComparer<int>.Instance);
        var truncated = new List<int>();
        for (int i = 0; i < requests.Count; i++)
        {
            var r = requests[i];
            if (r.Context.Concat(r.Continuation).Any(t => t < 0 || t >= vocab))
                throw new AloraException(
                    $"request {i} has a token id outside the model's vocabulary [0, {vocab}): does the tokenizer belong to this model?"
                );
            Input(r, ctx); // checks the request
            if (!ShareContexts || r.Context.Length + r.Continuation.Length - 1 > ctx)
            {
                truncated.Add(i); // left-truncated rows differ per choice: scored row by row
                continue;
            }
            if (!groupOf.TryGetValue(r.Context, out var group))
            {
                group = new ContextGroup(r.Context, []);
                groupOf.Add(r.Context, group);
                groups.Add(group);
            }
            group.Requests.Add(i);
        }

        var lls = new double[requests.Count];
        var device = _model.parameters().First().device;
        bool wasTraining = _model.training;
        _model.eval();
        int done = 0;
        using (no_grad())
        {
            // longest context first (lm-eval's Collator): similar lengths share a batch, and an out-of-memory shows at once
            var order = groups.OrderByDescending(x => x.Context.Length).ToList();
            for (int b = 0; b < order.Count; b += BatchSize)
            {
                var batch = order.GetRange(b, Math.Min(BatchSize, order.Count - b));
                SharedContextBatch.Score(_model, requests, batch, lls, device);
                done += batch.Sum(x => x.Requests.Count);
                progress?.Report(new EvalProgress(done, requests.Count, "choices"));
            }
            if (truncated.Count > 0)
                ScoreRows(requests, truncated, lls, device, progress, done);
        }
        if (wasTraining)
            _model.train();
        return lls;
    }

    /// <summary>Requests longer than the context: each its own left-truncated row (identical rows shared), as lm-eval.</summary>
    void ScoreRows(
        IReadOnlyList<LoglikelihoodRequest> requests,
        List<int> which,
        double[] lls,
        Device device,
        IProgress<EvalProgress>? progress,
        int done
    )
    {
        int ctx = _model.ContextLength;
        var rows = new List<long[]>();
        var rowIndex = new Dictionary<long[], int>(SequenceComparer<long>.Instance);
        var requestsOfRow = new List<List<int>>();
        foreach (int i in which)
        {
            var input = Input(requests[i], ctx);
            if (!rowIndex.TryGetValue(input, out int row))
            {
                row = rows.Count;
                rowIndex.Add(input, row);
                rows.Add(input);
                requestsOfRow.Add([]);
            }
            requestsOfRow[row].Add(i);
        }
        var order = Enumerable.Range(0, rows.Count).OrderByDescending(r => rows[r].Length).ToArray();
        for (int b = 0; b < order.Length; b += BatchSize)
        {
            using var scope = NewDisposeScope();
            var batch = order.Skip(b).Take(BatchSize).ToArray();
            int len = rows[batch[0]].Length;
            var ids = new long[batch.Length * len]; // right padding with id 0: causal attention never reads it
            var positions = new List<long>();
            var targets = new List<long>();
            var owner = new List<int>();
            for (int k = 0; k < batch.Length; k++)
            {
                var input = rows[batch[k]];
                Array.Copy(input, 0, ids, k * len, input.Length);
                foreach (int q in requestsOfRow[batch[k]])
                {
                    var cont = requests[q].Continuation;
                    for (int j = 0; j < cont.Length; j++)
                    {
                        positions.Add(k * len + input.Length - cont.Length + j); // this position predicts cont[j]
                        targets.Add(cont[j]);
                        owner.Add(q);
                    }
                }
            }
            var nll = TokenNll
                .AtPositions(
                    _model,
                    tensor(ids, [batch.Length, len], device: device),
                    tensor(positions.ToArray(), device: device),
                    tensor(targets.ToArray(), device: device)
                )
                .to_type(ScalarType.Float64)
                .cpu()
                .data<double>()
                .ToArray(); // [P]
            for (int p = 0; p < nll.Length; p++)
                lls[owner[p]] -= nll[p];
            done += batch.Sum(r => requestsOfRow[r].Count);
            progress?.Report(new EvalProgress(done, requests.Count, "choices"));
        }
    }

    sealed class SequenceComparer<T> : IEqualityComparer<T[]>
        where T : IEquatable<T>
    {
        public static readonly SequenceComparer<T> Instance = new();

        public bool Equals(T[]? x, T[]? y) => x is null ? y is null : y is not null && x.AsSpan().SequenceEqual(y);

        public int GetHashCode(T[] obj)
        {
            var h = new HashCode();
            foreach (var v in obj)
                h.Add(v);
            return h.ToHashCode();
        }
    }
}
