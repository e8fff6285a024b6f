using Alora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Eval;

/// <summary>An item's context and the requests (its choices) that continue it.</summary>
internal sealed record ContextGroup(int[] Context, List<int> Requests);

/// <summary>
/// Scores a batch of items with each context read once. Phase 1 runs the contexts as right-padded rows (causal
/// attention, positions from 0: the same computation as scoring the context alone), keeping their keys and values;
/// the last context position predicts every choice's first token. Phase 2 packs all choices' remaining input
/// tokens (continuation[0..n-2]) into one row per item after the cache: token i of a choice sits at position
/// len(context) + i and reads its item's context and its own choice's earlier tokens, nothing else (a block-diagonal
/// causal mask), so each choice's log-likelihood is the one a separate context + continuation row gives.
/// Items whose choices are all one token (MedMCQA's letters) need no phase 2 and no cache.
/// </summary>
internal static class SharedContextBatch
{
    /// <summary>Adds each request's summed log p to <paramref name="lls"/>.</summary>
    public static void Score(
        CausalLM model,
        IReadOnlyList<LoglikelihoodRequest> requests,
        IReadOnlyList<ContextGroup> groups,
        double[] lls,
        Device device
    )
    {
        using var scope = NewDisposeScope();
        int g = groups.Count;
        int lmax = groups.Max(x => x.Context.Length);
        var packed = groups.Select(x => x.Requests.Sum(q => requests[q].Continuation.Length - 1)).ToArray(); // phase-2 tokens per item
        int s = packed.Max();

        var ids = new long[g * lmax]; // right padding with id 0: causal attention never reads it
        var at = new List<long>();
        var targets = new List<long>();
        var owner = new List<int>();
        for (int k = 0; k < g; k++)
        {
            var ctx = groups[k].Context;
            for (int j = 0; j < ctx.Length; j++)
                ids[k * lmax + j] = ctx[j];
            foreach (int q in groups[k].Requests)
            {
                at.Add(k * lmax + ctx.Length - 1); // the context's last position predicts continuation[0]
                targets.Add(requests[q].Continuation[0]);
                owner.Add(q);
            }
        }
        using var cache = s > 0 ? model.NewCache(lmax + s) : null;
        var input = tensor(ids, [g, lmax], device: device);
        var hidden = cache is null ? model.Hidden(input) : model.Hidden(input, cache); // [G,Lmax,C]
        Accumulate(model, hidden, at, targets, owner, lls, device);
        if (cache is null)
            return;

        var (ids2, positions, mask) = Packed(requests, groups, lmax, s, at, targets, owner);
        var hidden2 = model.Hidden(
            tensor(ids2, [g, s], device: device),
            cache,
            tensor(positions, [g, s], device: device),
            tensor(mask, [g, 1, s, lmax + s], device: device)
        ); // [G,S,C]
        Accumulate(model, hidden2, at, targets, owner, lls, device);
    }

    /// <summary>
    /// Phase 2's row per item: ids and positions [G,S], the mask [G,1,S,Lmax+S] (true = read), and in
    /// <paramref name="at"/>/<paramref name="targets"/>/<paramref name="owner"/> (cleared first) the flat positions
    /// k*S + offset + i that predict continuation[i + 1].
    /// </summary>
    static (long[] Ids, long[] Positions, bool[] Mask) Packed(
        IReadOnlyList<LoglikelihoodRequest> requests,
        IReadOnlyList<ContextGroup> groups,
        int lmax,
        int s,
        List<long> at,
        List<long> targets,
        List<int> owner
    )
    {
        at.Clear();
        targets.Clear();
        owner.Clear();
        int g = groups.Count,
            keys = lmax + s;
        var ids = new long[g * s];
        var positions = new long[g * s];
        var mask = new bool[g * s * keys];
        for (int k = 0; k < g; k++)
        {
            int lc = groups[k].Context.Length,
                offset = 0;
            foreach (int q in groups[k].Requests)
            {
                var cont = requests[q].Continuation;
                for (int i = 0; i < cont.Length - 1; i++)
                {
                    int row = k * s + offset + i; // query row in [G*S]
                    ids[row] = cont[i];
                    positions[row] = lc + i;
                    for (int j = 0; j < lc; j++)
                        mask[row * keys + j] = true; // the item's own context
                    for (int j = 0; j <= i; j++)
                        mask[row * keys + lmax + offset + j] = true; // this choice's tokens up to itself
                    at.Add(row);
                    targets.Add(cont[i + 1]);
                    owner.Add(q);
                }
                offset += cont.Length - 1;
            }
            for (int p = offset; p < s; p++)
                mask[(k * s + p) * keys + lmax + p] = true; // a padding query reads itself only: no row of -inf, no NaN
        }
        return (ids, positions, mask);
    }

    // nll at the flat positions of hidden [B,T,C], subtracted from each owner's log-likelihood
    static void Accumulate(CausalLM model, Tensor hidden, List<long> at, List<long> targets, List<int> owner, double[] lls, Device device)
    {
        if (at.Count == 0)
            return;
        var rows = hidden.reshape(-1, hidden.shape[2]).index_select(0, tensor(at.ToArray(), device: device)); // [P,C]
        var nll = TokenNll
            .ChunkedHead(model, rows, tensor(targets.ToArray(), device: device))
            .to_type(ScalarType.Float64)
            .cpu()
            .data<double>()
            .ToArray();
        for (int p = 0; p < nll.Length; p++)
            lls[owner[p]] -= nll[p];
    }
}
