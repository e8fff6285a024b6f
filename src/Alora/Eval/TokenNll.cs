using Alora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Eval;

public static class TokenNll
{
    /// <summary>
    /// Next-token negative log-likelihood per position: logits [B,T,V], targets [B,T] (the token that
    /// follows each position) -> nll [B,T] in nats, computed in float32 with log_softmax.
    /// </summary>
    public static Tensor PerPosition(Tensor logits, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var logp = logits.to_type(ScalarType.Float32).log_softmax(-1); // [B,T,V]
        return (-logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)).MoveToOuterDisposeScope(); // [B,T]
    }

    /// <summary>
    /// The same from the model, with the output projection applied to chunks of
    /// <see cref="CausalLM.HeadChunkRows"/> positions: ids [B,T], targets [B,T] -> nll [B,T].
    /// </summary>
    public static Tensor PerPosition(CausalLM model, Tensor ids, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Hidden(ids); // [B,T,C]
        var flat = hidden.reshape(-1, hidden.shape[2]); // [B*T,C]
        return ChunkedHead(model, flat, targets.reshape(-1)).view(ids.shape[0], ids.shape[1]).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same at chosen positions only: ids [B,T], positions [P] (flat indices b*T + t, repeats allowed),
    /// targets [P] -> nll [P]. The head runs on the P rows alone, so context positions cost no logits
    /// (multiple-choice scoring predicts a few continuation tokens after a long prompt).
    /// </summary>
    public static Tensor AtPositions(CausalLM model, Tensor ids, Tensor positions, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Hidden(ids); // [B,T,C]
        var rows = hidden.reshape(-1, hidden.shape[2]).index_select(0, positions); // [P,C]
        return ChunkedHead(model, rows, targets).MoveToOuterDisposeScope();
    }

    /// <summary>rows [N,C], targets [N] -> nll [N], the head applied to <see cref="CausalLM.HeadChunkRows"/> rows at a time.</summary>
    public static Tensor ChunkedHead(CausalLM model, Tensor rows, Tensor targets)
    {
        var parts = new List<Tensor>();
        long n = rows.shape[0];
        for (long r = 0; r < n; r += model.HeadChunkRows)
        {
            long m = Math.Min(model.HeadChunkRows, n - r);
            var logits = model.Head(rows.narrow(0, r, m)); // [m,V]
            parts.Add(nn.functional.cross_entropy(logits, targets.narrow(0, r, m), reduction: nn.Reduction.None));
        }
        return cat(parts, 0); // [N]
    }
}
